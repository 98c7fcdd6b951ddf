package auth

import (
	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/config"
)

// SafeConfig describes an API's authentication configuration without a
// secret: what the /config endpoints show (tasker-core's SafeAuthConfig).
// Keys and key hashes are never included, only how many API keys exist.
func SafeConfig(a config.WebAuth) api.SafeAuthConfig {
	if !a.Enabled {
		return api.SafeAuthConfig{Enabled: false, VerificationMethod: "none", AllowedAlgorithms: []string{}}
	}
	method := "api_key"
	switch {
	case a.JWKSURL != "":
		method = "jwks"
	case a.JWTPublicKey != "" || a.JWTPublicKeyPath != "":
		method = "public_key"
	}
	algs := append([]string{}, a.JWTAllowedAlgorithms...)
	return api.SafeAuthConfig{
		Enabled: true, VerificationMethod: method, JWTIssuer: a.JWTIssuer, JWTAudience: a.JWTAudience,
		APIKeyHeader: a.APIKeyHeader, APIKeyCount: len(a.APIKeys), StrictValidation: a.StrictValidation,
		AllowedAlgorithms: algs,
	}
}
