package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
)

// File names `tasker auth keygen` writes (tasker-core's).
const (
	privateKeyFile = "jwt-private-key.pem"
	publicKeyFile  = "jwt-public-key.pem"
	jwksFile       = "jwks.json"
)

// envPrivateKeyPath names the default --private-key of `tasker auth token`.
const envPrivateKeyPath = "TASKER_JWT_PRIVATE_KEY_PATH"

// newAuthCmd builds `tasker auth`: development keys and tokens, and API key
// hashes for the configuration.
func newAuthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Make development keys and tokens, and hash API keys for the configuration",
		Long: `Helpers for the REST APIs' authentication (docs/security.md):

  keygen       an RSA or EC key pair that signs development tokens
  token        sign a token with that key
  hash-key     hash an API key (or make one) for web.auth.api_keys
  permissions  the permission vocabulary

In production an identity provider issues tokens; these commands are for
development, tests and machines that mint their own.`,
	}
	cmd.AddCommand(newAuthKeygenCmd(), newAuthTokenCmd(), newAuthHashKeyCmd(), newAuthPermissionsCmd())
	return cmd
}

func newAuthKeygenCmd() *cobra.Command {
	var (
		alg    string
		bits   int
		outDir string
		force  bool
		jwks   bool
	)
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Write a key pair for signing development tokens",
		Long: `Write jwt-private-key.pem (mode 0600) and jwt-public-key.pem to --out-dir,
and with --jwks a jwks.json key set holding the public key (its kid is the
key's RFC 7638 thumbprint, the kid 'tasker auth token' puts in its tokens).

Point the servers at the public key (TASKER_JWT_PUBLIC_KEY_PATH, or
web.auth.jwt_public_key_path) and 'tasker auth token' at the private key
(--private-key or TASKER_JWT_PRIVATE_KEY_PATH).`,
		Example: `  tasker auth keygen --out-dir ./keys
  tasker auth keygen --algorithm ES256 --out-dir ./keys --jwks`,
		Args: argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if alg != config.AlgRS256 && alg != config.AlgES256 {
				return badUsage(cmd, "--algorithm: want RS256 or ES256, got %q", alg)
			}
			if bits != 0 && (alg != config.AlgRS256 || bits < 2048 || bits > 8192) {
				return badUsage(cmd, "--bits: 2048 to 8192, for RS256 only")
			}
			key, err := auth.GenerateKey(alg, bits)
			if err != nil {
				return err
			}
			priv, err := auth.EncodePrivateKeyPEM(key)
			if err != nil {
				return err
			}
			pub, err := auth.EncodePublicKeyPEM(key.Public())
			if err != nil {
				return err
			}
			files := map[string][]byte{privateKeyFile: priv, publicKeyFile: pub}
			if jwks {
				jwk, err := auth.PublicJWK(key.Public(), "")
				if err != nil {
					return err
				}
				doc, err := json.MarshalIndent(auth.JWKSet{Keys: []auth.JWK{jwk}}, "", "  ")
				if err != nil {
					return err
				}
				files[jwksFile] = append(doc, '\n')
			}
			if err := os.MkdirAll(outDir, 0o750); err != nil {
				return fmt.Errorf("creating %s: %w", outDir, err)
			}
			for _, name := range []string{privateKeyFile, publicKeyFile, jwksFile} {
				if _, ok := files[name]; !ok || force {
					continue
				}
				if _, err := os.Stat(filepath.Join(outDir, name)); err == nil {
					return badUsage(cmd, "%s exists; give --force to replace it", filepath.Join(outDir, name))
				}
			}
			for _, name := range []string{privateKeyFile, publicKeyFile, jwksFile} {
				data, ok := files[name]
				if !ok {
					continue
				}
				mode := os.FileMode(0o644)
				if name == privateKeyFile {
					mode = 0o600
				}
				if err := writeFileMode(filepath.Join(outDir, name), data, mode); err != nil {
					return err
				}
			}
			kid, err := auth.KeyID(key.Public())
			if err != nil {
				return err
			}
			abs, err := filepath.Abs(outDir)
			if err != nil {
				abs = outDir
			}
			var b strings.Builder
			fmt.Fprintf(&b, "wrote %s key pair (kid %s) to %s\n\n", alg, kid, abs)
			fmt.Fprintf(&b, "  export TASKER_JWT_PUBLIC_KEY_PATH=%s\n", filepath.Join(abs, publicKeyFile))
			fmt.Fprintf(&b, "  export %s=%s\n", envPrivateKeyPath, filepath.Join(abs, privateKeyFile))
			b.WriteString("  export TASKER_AUTH_TOKEN=$(tasker auth token --permissions all)\n")
			_, err = io.WriteString(cmd.OutOrStdout(), b.String())
			return err
		},
	}
	cmd.Flags().StringVar(&alg, "algorithm", config.AlgRS256, "`ALG`: RS256 (RSA) or ES256 (EC P-256)")
	cmd.Flags().IntVar(&bits, "bits", 0, "RSA key size in bits (default 2048)")
	cmd.Flags().StringVar(&outDir, "out-dir", ".", "`DIR` to write the files to")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing files")
	cmd.Flags().BoolVar(&jwks, "jwks", false, "also write jwks.json (a JWKS with the public key)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return badUsage(c, "%v", err) })
	return cmd
}

// writeFileMode writes a file with a mode, also when it exists already.
func writeFileMode(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func newAuthTokenCmd() *cobra.Command {
	var (
		keyPath  string
		perms    []string
		subject  string
		issuer   string
		audience []string
		ttl      time.Duration
		claim    string
		kid      string
	)
	cmd := &cobra.Command{
		Use:   "token --permissions PERM[,PERM...]",
		Short: "Sign a development token",
		Long: `Sign a JWT with a private key from 'tasker auth keygen' and print it.

--permissions takes "resource:action" permissions ('tasker auth permissions'
lists them), "resource:*" wildcards, or "all" for every resource's wildcard.
The defaults match the orchestration API's default jwt_issuer and
jwt_audience; give --audience worker-api for a worker API, or both for one
token that serves both.`,
		Example: `  tasker auth token --permissions tasks:create,tasks:read
  tasker auth token --permissions all --ttl 8h
  export TASKER_AUTH_TOKEN=$(tasker auth token --permissions 'tasks:*,steps:read' --audience tasker-api --audience worker-api)`,
		Args: argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyPath == "" {
				keyPath = os.Getenv(envPrivateKeyPath)
			}
			if keyPath == "" {
				return badUsage(cmd, "--private-key is required (or set %s); make one with 'tasker auth keygen'", envPrivateKeyPath)
			}
			if len(perms) == 0 {
				return badUsage(cmd, "--permissions is required (\"all\" for every permission)")
			}
			var granted []string
			for _, p := range perms {
				p = strings.TrimSpace(p)
				switch {
				case p == "all":
					for _, r := range api.PermissionResources {
						granted = append(granted, r+":*")
					}
				case api.IsKnownPermission(p):
					granted = append(granted, p)
				default:
					return badUsage(cmd, "--permissions: unknown permission %q (see 'tasker auth permissions')", p)
				}
			}
			if ttl <= 0 {
				return badUsage(cmd, "--ttl must be positive, got %s", ttl)
			}
			pemText, err := os.ReadFile(keyPath) //nolint:gosec // the file the user named is the point
			if err != nil {
				return badUsage(cmd, "--private-key: %v", err)
			}
			key, err := auth.ParsePrivateKeyPEM(pemText)
			if err != nil {
				return badUsage(cmd, "--private-key %s: %v", keyPath, err)
			}
			if kid == "" {
				if kid, err = auth.KeyID(key.Public()); err != nil {
					return err
				}
			}
			tok, err := auth.Sign(key, auth.TokenSpec{Issuer: issuer, Subject: subject, Audience: audience,
				Permissions: granted, PermissionsClaim: claim, TTL: ttl, KeyID: kid})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	cmd.Flags().StringVar(&keyPath, "private-key", "", "PEM `FILE` with the signing key (default $"+envPrivateKeyPath+")")
	cmd.Flags().StringSliceVar(&perms, "permissions", nil, "`PERMS` to grant, comma-separated or repeated; \"all\" for every one")
	cmd.Flags().StringVar(&subject, "subject", "developer", "the sub claim: who the token is for")
	cmd.Flags().StringVar(&issuer, "issuer", "tasker-core", "the iss claim (the servers' jwt_issuer)")
	cmd.Flags().StringArrayVar(&audience, "audience", []string{"tasker-api"}, "the aud claim (the server's jwt_audience; repeatable)")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid")
	cmd.Flags().StringVar(&claim, "permissions-claim", "permissions", "the claim that holds the permissions")
	cmd.Flags().StringVar(&kid, "kid", "", "the kid header (default the key's RFC 7638 thumbprint)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return badUsage(c, "%v", err) })
	return cmd
}

func newAuthHashKeyCmd() *cobra.Command {
	var generate bool
	var name string
	cmd := &cobra.Command{
		Use:   "hash-key [KEY | -]",
		Short: "Print an API key's hash for web.auth.api_keys (or make a new key)",
		Long: `Print "sha256:<hex>", the form web.auth.api_keys[].key_hash takes. The key is
read from standard input (its first line) when no argument or "-" is given,
which keeps it out of the shell history.

--generate makes a new random key (256 bits) and prints it once, with its
hash and a configuration entry to paste. Give the key to its user; only the
hash goes into the configuration.`,
		Example: `  tasker auth hash-key --generate --name ci
  printf %s "$KEY" | tasker auth hash-key`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (generate && len(args) > 0) {
				return badUsage(cmd, "want at most one KEY argument, and none with --generate")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if generate {
				key, err := auth.GenerateAPIKey()
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "key:      %s\nkey_hash: %s\n\n"+
					"[[orchestration.web.auth.api_keys]]\nname = %q\nkey_hash = %q\npermissions = [\"tasks:read\"]\n",
					key, auth.HashKey(key), name, auth.HashKey(key))
				return err
			}
			var key string
			if len(args) == 1 && args[0] != "-" {
				key = args[0]
			} else {
				data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
				if err != nil {
					return fmt.Errorf("reading the key from standard input: %w", err)
				}
				key, _, _ = strings.Cut(string(data), "\n")
			}
			key = strings.TrimSpace(key)
			if key == "" {
				return badUsage(cmd, "empty key")
			}
			_, err := fmt.Fprintln(out, auth.HashKey(key))
			return err
		},
	}
	cmd.Flags().BoolVar(&generate, "generate", false, "make a new random key")
	cmd.Flags().StringVar(&name, "name", "my-client", "the name in the printed configuration entry (with --generate)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return badUsage(c, "%v", err) })
	return cmd
}

func newAuthPermissionsCmd() *cobra.Command {
	output := outputTable
	cmd := &cobra.Command{
		Use:   "permissions",
		Short: "List the permission vocabulary",
		Args:  argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if output == outputJSON {
				doc, err := json.MarshalIndent(api.Permissions, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", doc)
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "PERMISSION\tGRANTS") // a tabwriter's errors come from Flush
			for _, p := range api.Permissions {
				_, _ = fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Description)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err := fmt.Fprintf(out, "\n\"resource:*\" grants every permission of a resource (%s); there is no global wildcard.\n",
				strings.Join(api.PermissionResources, ", "))
			return err
		},
	}
	cmd.Flags().VarP(&output, "output", "o", "output `format`: table or json")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return badUsage(c, "%v", err) })
	return cmd
}
