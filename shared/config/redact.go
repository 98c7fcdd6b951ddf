package config

import (
	"reflect"
	"regexp"
	"strings"
)

// SecretMask is the text that replaces a secret.
const SecretMask = "***"

var (
	queryPasswordRE = regexp.MustCompile(`(?i)([?&](?:password|sslpassword|pass)=)[^&#"\s]*`)
	dsnPasswordRE   = regexp.MustCompile(`(?i)\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)`)
)

// RedactSecrets returns s with the passwords it contains replaced by
// "***": the password of every URL's user info ("amqp://u:***@host/"),
// password= query parameters, and password=… in a key=value connection
// string. Other text is unchanged.
func RedactSecrets(s string) string {
	if !strings.Contains(s, "://") {
		return dsnPasswordRE.ReplaceAllString(s, "${1}"+SecretMask)
	}
	var out strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			out.WriteString(s)
			break
		}
		out.WriteString(s[:i+3])
		s = s[i+3:]
		end := strings.IndexAny(s, "/?#\"' \t\n")
		if end < 0 {
			end = len(s)
		}
		authority := s[:end]
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			if colon := strings.IndexByte(authority[:at], ':'); colon >= 0 {
				authority = authority[:colon+1] + SecretMask + authority[at:]
			}
		}
		out.WriteString(authority)
		s = s[end:]
	}
	return queryPasswordRE.ReplaceAllString(out.String(), "${1}"+SecretMask)
}

// Redacted returns a deep copy of c with RedactSecrets applied to every
// string value and every field tagged `secret:"true"` (API key hashes)
// masked whole, for display (`tasker config show`, the config endpoints).
func (c *Config) Redacted() *Config {
	out := c.Clone()
	redactStrings(reflect.ValueOf(out).Elem())
	return out
}

func redactStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			redactStrings(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			switch {
			case !f.IsExported():
			case f.Tag.Get("secret") == "true" && f.Type.Kind() == reflect.String:
				if v.Field(i).String() != "" {
					v.Field(i).SetString(SecretMask)
				}
			default:
				redactStrings(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			redactStrings(v.Index(i))
		}
	case reflect.String:
		v.SetString(RedactSecrets(v.String()))
	}
}
