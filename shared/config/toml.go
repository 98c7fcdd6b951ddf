package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// tomlParser is a koanf.Parser over go-toml: TOML text to nested maps of
// string, int64, float64, bool, []any and map[string]any.
type tomlParser struct{}

func (tomlParser) Unmarshal(data []byte) (map[string]any, error) {
	m := make(map[string]any)
	if err := toml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parsing TOML: %w", err)
	}
	return m, nil
}

func (tomlParser) Marshal(m map[string]any) ([]byte, error) {
	data, err := toml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("writing TOML: %w", err)
	}
	return data, nil
}

// tomlErrorPosition returns ":line:column" for a TOML syntax error, or "".
func tomlErrorPosition(err error) string {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		return fmt.Sprintf(":%d:%d", row, col)
	}
	return ""
}

// tomlErrorMessage returns the message of a TOML syntax error without
// go-toml's prefix.
func tomlErrorMessage(err error) string {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		return "invalid TOML: " + strings.TrimPrefix(de.Error(), "toml: ")
	}
	return err.Error()
}

// mapProvider is a koanf.Provider for an already parsed layer.
type mapProvider map[string]any

func (p mapProvider) Read() (map[string]any, error) { return p, nil }

func (p mapProvider) ReadBytes() ([]byte, error) {
	return nil, errors.New("mapProvider holds parsed maps only")
}
