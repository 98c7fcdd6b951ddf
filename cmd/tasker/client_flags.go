package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tasker-go/tasker/client"
)

// Exit statuses of the client commands (task, dlq, system, template
// list/show).
const (
	// exitAPIFailure: the server refused the request, could not be
	// reached, or reported a problem (system health).
	exitAPIFailure = 1
	// exitUsage: a bad command line; nothing was sent.
	exitUsage = 2
	// exitTaskNotComplete: `task create --wait` saw the task end in a state
	// other than complete, or gave up waiting.
	exitTaskNotComplete = 3
)

// defaultAPIURL is the orchestration API a client command talks to when
// neither --url nor TASKER_URL says otherwise.
const defaultAPIURL = "http://localhost:8080"

// maxJSONFlagFile bounds a JSON flag value read from a file or stdin (the
// server accepts 1 MiB bodies).
const maxJSONFlagFile = 8 << 20

// outputFormat is the value of --output.
type outputFormat string

const (
	outputTable outputFormat = "table"
	outputJSON  outputFormat = "json"
)

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "format" }

func (o *outputFormat) Set(v string) error {
	switch outputFormat(v) {
	case outputTable, outputJSON:
		*o = outputFormat(v)
		return nil
	}
	return fmt.Errorf("must be table or json")
}

// apiFlags are the flags every client command shares.
type apiFlags struct {
	url          string
	output       outputFormat
	timeout      time.Duration
	token        string
	apiKey       string
	apiKeyHeader string
}

// register adds --url, --output, --timeout and the credential flags to fs
// (a command group's persistent flags, or a single command's flags). The
// credential flags have no defaults shown in --help: their environment
// variables are read when the command runs, so a secret never appears in
// help output.
func (f *apiFlags) register(fs *pflag.FlagSet) {
	def := os.Getenv("TASKER_URL")
	if def == "" {
		def = defaultAPIURL
	}
	f.output = outputTable
	fs.StringVar(&f.url, "url", def, "orchestration REST API `URL` (env TASKER_URL)")
	fs.VarP(&f.output, "output", "o", "output `format`: table or json (the server's JSON, indented)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "time limit for each API request")
	fs.StringVar(&f.token, "token", "", "bearer `JWT` for the API, or @FILE to read it from a file "+
		"(default $TASKER_ORCHESTRATION_AUTH_TOKEN, else $TASKER_AUTH_TOKEN)")
	fs.StringVar(&f.apiKey, "api-key", "", "API `KEY` for the API, or @FILE to read it from a file (default $TASKER_API_KEY)")
	fs.StringVar(&f.apiKeyHeader, "api-key-header", "", "`HEADER` that carries --api-key "+
		"(default $TASKER_API_KEY_HEADER, else "+client.DefaultAPIKeyHeader+")")
}

// API credential sources, strongest first after the flags (tasker-core's
// variables and order).
const (
	envOrchestrationToken = "TASKER_ORCHESTRATION_AUTH_TOKEN"
	envWorkerToken        = "TASKER_WORKER_AUTH_TOKEN"
	envToken              = "TASKER_AUTH_TOKEN"     //nolint:gosec // a variable's name, not a credential
	envAPIKey             = "TASKER_API_KEY"        //nolint:gosec // a variable's name, not a credential
	envAPIKeyHeader       = "TASKER_API_KEY_HEADER" //nolint:gosec // a variable's name, not a credential
)

// credentials are what a client sends: a token or an API key.
type credentials struct {
	token, apiKey, header string
}

func (c credentials) options() []client.Option {
	var opts []client.Option
	switch {
	case c.token != "":
		opts = append(opts, client.WithToken(c.token))
	case c.apiKey != "":
		opts = append(opts, client.WithAPIKey(c.apiKey), client.WithAPIKeyHeader(c.header))
	}
	return opts
}

// credentials resolves the credential for one API: the --token or
// --api-key flag (not both), else tokenEnv (the API's own variable, such as
// TASKER_ORCHESTRATION_AUTH_TOKEN), else TASKER_AUTH_TOKEN, else
// TASKER_API_KEY. No credential at all is fine: the server decides.
func (f *apiFlags) credentials(cmd *cobra.Command, tokenEnv string) (credentials, error) {
	c := credentials{header: f.apiKeyHeader}
	if c.header == "" {
		c.header = os.Getenv(envAPIKeyHeader)
	}
	if c.header == "" {
		c.header = client.DefaultAPIKeyHeader
	}
	if f.token != "" && f.apiKey != "" {
		return c, badUsage(cmd, "give --token or --api-key, not both")
	}
	var err error
	if c.token, err = secretFlag(cmd, "token", f.token); err != nil {
		return c, err
	}
	if c.apiKey, err = secretFlag(cmd, "api-key", f.apiKey); err != nil {
		return c, err
	}
	if c.token != "" || c.apiKey != "" {
		return c, nil
	}
	for _, name := range []string{tokenEnv, envToken} {
		if v := strings.TrimSpace(os.Getenv(name)); name != "" && v != "" {
			c.token = v
			return c, nil
		}
	}
	c.apiKey = strings.TrimSpace(os.Getenv(envAPIKey))
	return c, nil
}

// secretFlag reads a credential flag: the value, or @FILE for the first
// line of a file (@- for standard input), so that the secret need not
// appear in the process list.
func secretFlag(cmd *cobra.Command, flag, v string) (string, error) {
	file, ok := strings.CutPrefix(v, "@")
	if !ok {
		return strings.TrimSpace(v), nil
	}
	var (
		data []byte
		err  error
	)
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
	} else {
		data, err = os.ReadFile(file) //nolint:gosec // the file the user named is the point
	}
	if err != nil {
		return "", badUsage(cmd, "--%s: %v", flag, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", badUsage(cmd, "--%s: %s is empty", flag, file)
	}
	return line, nil
}

// apiCommand configures a client command group or command: the shared
// flags, and command-line mistakes reported as usage errors (exit 2).
func apiCommand(cmd *cobra.Command, f *apiFlags, persistent bool) *cobra.Command {
	if persistent {
		f.register(cmd.PersistentFlags())
	} else {
		f.register(cmd.Flags())
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return badUsage(c, "%v", err) })
	return cmd
}

// badUsage reports a command-line mistake: exit status 2, nothing sent.
func badUsage(cmd *cobra.Command, format string, args ...any) error {
	return exitCodeError{code: exitUsage,
		msg: "error: " + fmt.Sprintf(format, args...) + "\nRun '" + cmd.CommandPath() + " --help' for usage."}
}

// argNames checks that a command got exactly the named positional
// arguments.
func argNames(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(names) == 0 {
			return badUsage(cmd, "unexpected argument %q", args[0])
		}
		return badUsage(cmd, "want %s, got %d argument(s)", strings.Join(names, " "), len(args))
	}
}

// apiSession is one run of a client command: the API client, where to
// print, and the last JSON document the server sent (printed as is by
// --output json).
type apiSession struct {
	cmd  *cobra.Command
	ctx  context.Context
	c    *client.Client
	out  io.Writer
	json bool
	last []byte
}

// runAPI builds a command's RunE: it checks the shared flags, connects a
// client, runs fn, and turns API errors into their printed form.
func runAPI(f *apiFlags, fn func(s *apiSession, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := f.session(cmd)
		if err != nil {
			return err
		}
		return apiError(fn(s, args))
	}
}

func (f *apiFlags) session(cmd *cobra.Command) (*apiSession, error) {
	if f.timeout <= 0 {
		return nil, badUsage(cmd, "--timeout must be positive, got %s", f.timeout)
	}
	s := &apiSession{cmd: cmd, ctx: cmd.Context(), out: cmd.OutOrStdout(), json: f.output == outputJSON}
	if s.ctx == nil {
		s.ctx = context.Background()
	}
	creds, err := f.credentials(cmd, envOrchestrationToken)
	if err != nil {
		return nil, err
	}
	c, err := newAPIClient(f.url, f.timeout, creds, func(_, _ string, _ int, body []byte) { s.last = slices.Clone(body) })
	if err != nil {
		return nil, badUsage(cmd, "--url: %v", err)
	}
	s.c = c
	return s, nil
}

func newAPIClient(url string, timeout time.Duration, creds credentials,
	hook func(method, path string, status int, body []byte)) (*client.Client, error) {
	opts := append([]client.Option{client.WithHTTPClient(&http.Client{Timeout: timeout}), client.WithResponseHook(hook)},
		creds.options()...)
	return client.New(url, opts...)
}

// printJSON prints the server's last JSON document, indented.
func (s *apiSession) printJSON() error {
	return writeIndentedJSON(s.out, s.last)
}

func writeIndentedJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("the server sent invalid JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// apiError turns an error of a client command into what it prints and its
// exit status: `error: <message> (<CODE>, HTTP <status>)` and one line per
// problem for API errors, the client's own explanation when the server
// cannot be reached.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var (
		ec exitCodeError
		ae *client.Error
		ce *client.ConnectionError
	)
	switch {
	case errors.As(err, &ec):
		return err
	case errors.Is(err, context.Canceled):
		return exitCodeError{code: exitAPIFailure, msg: "error: interrupted"}
	case errors.As(err, &ae):
		var b strings.Builder
		fmt.Fprintf(&b, "error: %s (%s, HTTP %d)", ae.Message, ae.Code, ae.Status)
		for _, d := range ae.Details {
			where := d.Pointer
			switch {
			case d.Parameter != "":
				where = d.Parameter
			case where == "":
				where = "(request body)"
			}
			fmt.Fprintf(&b, "\n  %s: %s", where, d.Message)
		}
		if ae.RetryAfter > 0 {
			fmt.Fprintf(&b, "\n  retry after %s", ae.RetryAfter)
		}
		switch ae.Status {
		case http.StatusUnauthorized:
			b.WriteString("\n  the server wants a credential: pass --token or --api-key, or set " + envToken + " or " +
				envAPIKey + " (docs/security.md)")
		case http.StatusForbidden:
			b.WriteString("\n  the credential was accepted but lacks this permission")
		}
		return exitCodeError{code: exitAPIFailure, msg: b.String()}
	case errors.As(err, &ce):
		return exitCodeError{code: exitAPIFailure, msg: "error: " + ce.Error()}
	}
	return exitCodeError{code: exitAPIFailure, msg: "error: " + err.Error()}
}

// parseUUIDArg reads a UUID argument or flag value named name.
func parseUUIDArg(cmd *cobra.Command, name, v string) (uuid.UUID, error) {
	id, err := uuid.Parse(strings.TrimSpace(v))
	if err != nil {
		return uuid.Nil, badUsage(cmd, "%s: %q is not a UUID", name, v)
	}
	return id, nil
}

// jsonFlag reads a JSON flag value: inline JSON, @FILE, or @- for standard
// input. With object set, the value must be a JSON object. It returns the
// compacted JSON.
func jsonFlag(cmd *cobra.Command, flag, v string, object bool) (json.RawMessage, error) {
	data := []byte(v)
	if file, ok := strings.CutPrefix(v, "@"); ok {
		var (
			r    io.Reader
			name = file
		)
		if file == "-" {
			r, name = cmd.InOrStdin(), "standard input"
		} else {
			fh, err := os.Open(file)
			if err != nil {
				return nil, badUsage(cmd, "--%s: %v", flag, err)
			}
			defer fh.Close()
			r = fh
		}
		var err error
		data, err = io.ReadAll(io.LimitReader(r, maxJSONFlagFile+1))
		switch {
		case err != nil:
			return nil, badUsage(cmd, "--%s: reading %s: %v", flag, name, err)
		case len(data) > maxJSONFlagFile:
			return nil, badUsage(cmd, "--%s: %s is larger than %d bytes", flag, name, maxJSONFlagFile)
		}
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, badUsage(cmd, "--%s: empty value; give JSON, @FILE or @-", flag)
	}
	var value any
	if err := json.Unmarshal(data, &value); err != nil {
		return nil, badUsage(cmd, "--%s: invalid JSON: %v", flag, err)
	}
	if _, isObject := value.(map[string]any); object && !isObject {
		return nil, badUsage(cmd, "--%s: must be a JSON object ({...}), not %s", flag, jsonKindOf(value))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, badUsage(cmd, "--%s: invalid JSON: %v", flag, err)
	}
	return buf.Bytes(), nil
}

func jsonKindOf(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an object"
}

// requiredFlag reports an empty required string flag.
func requiredFlag(cmd *cobra.Command, flag, v, why string) error {
	if strings.TrimSpace(v) != "" {
		return nil
	}
	return badUsage(cmd, "--%s is required (%s)", flag, why)
}
