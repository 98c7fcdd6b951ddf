package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/config"
)

func TestKeyPEMRoundTrip(t *testing.T) {
	t.Parallel()
	for alg, s := range map[string]crypto.Signer{config.AlgRS256: rsaKeys()[0], config.AlgES256: ecKeys()[0]} {
		privPEM, err := EncodePrivateKeyPEM(s)
		require.NoError(t, err)
		back, err := ParsePrivateKeyPEM(privPEM)
		require.NoError(t, err)
		pubPEM, err := EncodePublicKeyPEM(back.Public())
		require.NoError(t, err)
		pub, err := ParsePublicKeyPEM(pubPEM)
		require.NoError(t, err)
		got, err := KeyAlgorithm(pub)
		require.NoError(t, err)
		require.Equal(t, alg, got)
		kid1, err := KeyID(pub)
		require.NoError(t, err)
		kid2, err := KeyID(s.Public())
		require.NoError(t, err)
		require.Equal(t, kid1, kid2, "the kid is a thumbprint of the key")

		// A token signed with the parsed private key verifies with the
		// parsed public key.
		cfg := enabledConfig()
		cfg.JWTPublicKey = string(pubPEM)
		a, err := New(Options{Config: cfg, Now: func() time.Time { return testNow }})
		require.NoError(t, err)
		p, reason, _ := a.Authenticate(bearer(sign(t, back, spec(api.PermTasksRead))), false)
		require.Empty(t, reason)
		require.True(t, p.Allows(api.PermTasksRead))
	}
}

func TestKeyPEMForms(t *testing.T) {
	t.Parallel()
	rk := rsaKeys()[0].(*rsa.PrivateKey)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rk.PublicKey)})
	_, err := ParsePublicKeyPEM(append([]byte("junk before\n"), pkcs1...))
	require.NoError(t, err)
	_, err = ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}))
	require.NoError(t, err)
	ek := ecKeys()[0].(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ek)
	require.NoError(t, err)
	_, err = ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	require.NoError(t, err)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	require.NoError(t, err)
	_, err = ParsePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	require.ErrorContains(t, err, "ES256 needs P-256")
	_, err = ParsePublicKeyPEM([]byte("no pem here"))
	require.ErrorContains(t, err, "no PEM public key found")
	_, err = ParsePrivateKeyPEM(pkcs1)
	require.ErrorContains(t, err, "no PEM private key found")
	_, err = GenerateKey("HS256", 0)
	require.Error(t, err)
	_, err = Sign(rk, TokenSpec{})
	require.ErrorContains(t, err, "lifetime must be positive")
}
