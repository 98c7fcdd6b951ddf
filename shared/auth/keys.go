package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tasker-go/tasker/shared/config"
)

// minRSABits is the smallest RSA modulus accepted for RS256.
const minRSABits = 2048

// KeyAlgorithm returns the JWT algorithm a public key verifies: RS256 for
// an RSA key of at least 2048 bits, ES256 for an EC key on P-256. Any other
// key is an error.
func KeyAlgorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("RSA key of %d bits: at least %d are required", k.N.BitLen(), minRSABits)
		}
		return config.AlgRS256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("EC key on %s: ES256 needs P-256", k.Curve.Params().Name)
		}
		return config.AlgES256, nil
	}
	return "", fmt.Errorf("unsupported key type %T: want RSA (RS256) or EC P-256 (ES256)", pub)
}

// ParsePublicKeyPEM reads the first public key of PEM text: a PKIX "PUBLIC
// KEY", a PKCS #1 "RSA PUBLIC KEY", or a "CERTIFICATE" (its key). The key
// must be one KeyAlgorithm accepts.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM public key found (want -----BEGIN PUBLIC KEY-----)")
		}
		var (
			pub any
			err error
		)
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
		}
		if _, err := KeyAlgorithm(pub); err != nil {
			return nil, err
		}
		return pub, nil
	}
}

// ParsePrivateKeyPEM reads the first private key of PEM text (PKCS #8
// "PRIVATE KEY", PKCS #1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY"). The
// key must be one KeyAlgorithm accepts.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found (want -----BEGIN PRIVATE KEY-----)")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		if _, err := KeyAlgorithm(signer.Public()); err != nil {
			return nil, err
		}
		return signer, nil
	}
}

// GenerateKey makes a key pair for alg: RSA 2048 bits for RS256 (or bits
// when larger), EC P-256 for ES256.
func GenerateKey(alg string, bits int) (crypto.Signer, error) {
	switch alg {
	case config.AlgRS256:
		if bits < minRSABits {
			bits = minRSABits
		}
		return rsa.GenerateKey(rand.Reader, bits)
	case config.AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("unsupported algorithm %q: want RS256 or ES256", alg)
}

// EncodePrivateKeyPEM writes a private key as PKCS #8 PEM.
func EncodePrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKeyPEM writes a public key as PKIX PEM.
func EncodePublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// JWK is one JSON Web Key (RFC 7517) as a JWKS document lists it.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	// RSA
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	// EC
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKSet is a JWKS document: {"keys": [...]}.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

var b64 = base64.RawURLEncoding

// PublicJWK describes a public key as a JWK with use "sig", its algorithm
// and kid (the RFC 7638 thumbprint when kid is empty).
func PublicJWK(pub crypto.PublicKey, kid string) (JWK, error) {
	alg, err := KeyAlgorithm(pub)
	if err != nil {
		return JWK{}, err
	}
	var k JWK
	switch p := pub.(type) {
	case *rsa.PublicKey:
		k = JWK{Kty: "RSA", N: b64.EncodeToString(p.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := p.Bytes() // 0x04 || X || Y
		if err != nil {
			return JWK{}, fmt.Errorf("encoding EC key: %w", err)
		}
		k = JWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(raw[1:33]), Y: b64.EncodeToString(raw[33:])}
	}
	if kid == "" {
		kid = thumbprint(k)
	}
	k.Kid, k.Use, k.Alg = kid, "sig", alg
	return k, nil
}

// thumbprint is the RFC 7638 thumbprint of a JWK: SHA-256 over its
// required members in lexicographic order, base64url.
func thumbprint(k JWK) string {
	var doc []byte
	if k.Kty == "RSA" {
		doc, _ = json.Marshal(struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{k.E, k.Kty, k.N})
	} else {
		doc, _ = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{k.Crv, k.Kty, k.X, k.Y})
	}
	sum := sha256.Sum256(doc)
	return b64.EncodeToString(sum[:])
}

// KeyID is the RFC 7638 thumbprint of a public key, the kid `tasker auth`
// puts in the tokens it signs and in the JWKS it writes.
func KeyID(pub crypto.PublicKey) (string, error) {
	k, err := PublicJWK(pub, "")
	if err != nil {
		return "", err
	}
	return k.Kid, nil
}

// TokenSpec is what Sign puts into a token.
type TokenSpec struct {
	Issuer      string
	Subject     string
	Audience    []string
	Permissions []string
	// PermissionsClaim names the claim (default "permissions").
	PermissionsClaim string
	// TTL is the lifetime: exp = now + TTL.
	TTL time.Duration
	// KeyID goes into the kid header when not empty.
	KeyID string
	// Now is the issue time (default time.Now()).
	Now time.Time
}

// Sign makes a JWT signed with key (RS256 for RSA, ES256 for EC P-256)
// carrying iss, sub, aud, iat, nbf, exp and the permissions claim.
func Sign(key crypto.Signer, spec TokenSpec) (string, error) {
	alg, err := KeyAlgorithm(key.Public())
	if err != nil {
		return "", err
	}
	if spec.TTL <= 0 {
		return "", errors.New("the token lifetime must be positive")
	}
	now := spec.Now
	if now.IsZero() {
		now = time.Now()
	}
	claim := spec.PermissionsClaim
	if claim == "" {
		claim = "permissions"
	}
	perms := spec.Permissions
	if perms == nil {
		perms = []string{}
	}
	claims := jwt.MapClaims{
		"iss": spec.Issuer,
		"sub": spec.Subject,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(spec.TTL).Unix(),
		claim: perms,
	}
	switch len(spec.Audience) {
	case 0:
	case 1:
		claims["aud"] = spec.Audience[0]
	default:
		claims["aud"] = spec.Audience
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	if spec.KeyID != "" {
		tok.Header["kid"] = spec.KeyID
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("signing the token: %w", err)
	}
	return s, nil
}
