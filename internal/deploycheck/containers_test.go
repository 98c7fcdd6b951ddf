package deploycheck

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
)

// instruction is one Dockerfile instruction after line continuations are
// joined.
type instruction struct {
	line int
	cmd  string
	args string
}

var dockerInstructions = []string{"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
	"VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}

// parseDockerfile reads a Dockerfile the way the builder splits it, and
// reports what a builder would reject: unknown instructions, an
// instruction before the first FROM, malformed exec-form JSON, COPY --from
// of a stage not defined earlier.
func parseDockerfile(path string) ([]instruction, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var out []instruction
	var problems []string
	sc := bufio.NewScanner(f)
	n, start := 0, 0
	var cur strings.Builder
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 {
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			start = n
		} else if strings.HasPrefix(trimmed, "#") {
			continue // comments inside a continued instruction are dropped
		}
		if body, cont := strings.CutSuffix(line, "\\"); cont {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if cur.Len() > 0 {
		problems = append(problems, fmt.Sprintf("line %d: the last instruction ends with a line continuation", start))
		flush()
	}
	stages := map[string]bool{}
	for i, ins := range out {
		where := fmt.Sprintf("line %d: %s", ins.line, ins.cmd)
		if !slices.Contains(dockerInstructions, ins.cmd) {
			problems = append(problems, where+": unknown instruction")
			continue
		}
		if i == 0 && ins.cmd != "FROM" && ins.cmd != "ARG" {
			problems = append(problems, where+": the first instruction must be FROM (or ARG)")
		}
		if ins.args == "" {
			problems = append(problems, where+": no arguments")
		}
		if ins.cmd == "FROM" {
			f := strings.Fields(ins.args)
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				stages[f[2]] = true
			} else if len(f) != 1 {
				problems = append(problems, where+": want FROM IMAGE [AS NAME]")
			}
		}
		if ins.cmd == "COPY" {
			for _, f := range strings.Fields(ins.args) {
				if from, ok := strings.CutPrefix(f, "--from="); ok && !stages[from] {
					problems = append(problems, fmt.Sprintf("%s: --from=%s is not an earlier stage", where, from))
				}
			}
		}
		args := ins.args
		if ins.cmd == "HEALTHCHECK" {
			if _, after, ok := strings.Cut(args, "CMD "); ok {
				args = strings.TrimSpace(after)
			} else if args != "NONE" {
				problems = append(problems, where+": want HEALTHCHECK [OPTIONS] CMD … or NONE")
			}
		}
		if (ins.cmd == "CMD" || ins.cmd == "ENTRYPOINT" || ins.cmd == "HEALTHCHECK") && strings.HasPrefix(args, "[") {
			var argv []string
			if err := json.Unmarshal([]byte(args), &argv); err != nil {
				problems = append(problems, fmt.Sprintf("%s: exec form is not a JSON array of strings: %v", where, err))
			}
		}
	}
	return out, problems, nil
}

// TestDockerfilesParse: the Dockerfiles and Containerfiles (which need a
// registry or a prepared context to build, so CI does not build them) are
// well formed, run as a non-root user, and copy only files that exist.
func TestDockerfilesParse(t *testing.T) {
	t.Parallel()
	files := []string{
		"../../deploy/images/Dockerfile",
		"../../deploy/images/tasker.Containerfile",
		"../../deploy/images/tasker-worker.Containerfile",
		"../../bindings/ruby/Dockerfile",
		"../../bindings/python/Dockerfile",
	}
	for _, f := range files {
		ins, problems, err := parseDockerfile(f)
		require.NoError(t, err)
		require.Empty(t, problems, f)
		var user string
		for _, i := range ins {
			if i.cmd == "USER" {
				user = i.args
			}
			if i.cmd != "COPY" || strings.Contains(i.args, "--from=") || strings.HasSuffix(f, ".Containerfile") {
				continue
			}
			// COPY from the build context (the repository root).
			fields := strings.Fields(i.args)
			for _, src := range fields[:len(fields)-1] {
				if strings.HasPrefix(src, "--") || src == "." {
					continue
				}
				_, err := os.Stat(filepath.Join("../..", src))
				require.NoError(t, err, "%s line %d copies %s", f, i.line, src)
			}
		}
		require.Equal(t, "65532:65532", user, "%s: the last USER", f)
	}
	_, problems, err := parseDockerfile(writeTemp(t, "FROM scratch\nCOPY --from=build /x /x\nRUNN true\nCMD [\"a\",]\n"))
	require.NoError(t, err)
	require.Len(t, problems, 3, strings.Join(problems, "\n"))
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Dockerfile")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// TestComposeFile: the compose file names only services, build targets,
// files and volumes that exist; the services the issue lists are there;
// authentication is configured (off unless the override turns it on with
// a key); and Prometheus's configuration loads with the alerting rules.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	dir := "../../deploy/compose"
	var c struct {
		Services map[string]struct {
			Build *struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
				Target     string `yaml:"target"`
			} `yaml:"build"`
			Image       string            `yaml:"image"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   any               `yaml:"depends_on"`
			Volumes     []string          `yaml:"volumes"`
			Deploy      struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &c))

	orchestrators, workers := 0, 0
	for name, s := range c.Services {
		switch {
		case strings.HasPrefix(name, "orchestration"):
			orchestrators += max(1, s.Deploy.Replicas)
		case name == "worker":
			workers += max(1, s.Deploy.Replicas)
		}
		if s.Build != nil {
			df := filepath.Join(dir, s.Build.Context, s.Build.Dockerfile)
			ins, problems, err := parseDockerfile(df)
			require.NoError(t, err, name)
			require.Empty(t, problems, df)
			require.True(t, slices.ContainsFunc(ins, func(i instruction) bool {
				return i.cmd == "FROM" && strings.HasSuffix(i.args, " AS "+s.Build.Target)
			}), "%s: build target %s is not a stage of %s", name, s.Build.Target, df)
		}
		var deps []string
		switch d := s.DependsOn.(type) {
		case []any:
			for _, x := range d {
				deps = append(deps, fmt.Sprint(x))
			}
		case map[string]any:
			for k := range d {
				deps = append(deps, k)
			}
		}
		for _, d := range deps {
			_, ok := c.Services[d]
			require.True(t, ok, "%s depends on unknown service %s", name, d)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				_, err := os.Stat(filepath.Join(dir, src))
				require.NoError(t, err, "%s mounts %s", name, src)
			} else {
				_, ok := c.Volumes[src]
				require.True(t, ok, "%s: volume %s is not declared", name, src)
			}
		}
		if s.Image == "tasker:local" || s.Image == "tasker-worker:local" {
			require.Equal(t, "production", s.Environment["TASKER_ENV"], name)
			require.Contains(t, s.Environment["DATABASE_URL"], "@postgres:5432/", name)
			if name != "migrate" {
				key := map[bool]string{true: "TASKER__WORKER__WEB__AUTH__ENABLED", false: "TASKER__ORCHESTRATION__WEB__AUTH__ENABLED"}[name == "worker"]
				require.Equal(t, "${TASKER_AUTH_ENABLED:-false}", s.Environment[key],
					"%s: production enforces authentication; the compose file must decide it explicitly", name)
			}
		}
	}
	for _, want := range []string{"postgres", "migrate", "prometheus", "grafana"} {
		_, ok := c.Services[want]
		require.True(t, ok, want)
	}
	require.Equal(t, 2, orchestrators)
	require.Equal(t, 2, workers)

	// The override turns authentication on with a mounted public key.
	var auth struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	data, err = os.ReadFile(filepath.Join(dir, "compose.auth.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &auth))
	for _, name := range []string{"orchestration-1", "orchestration-2", "worker"} {
		s := auth.Services[name]
		path := s.Environment["TASKER_JWT_PUBLIC_KEY_PATH"]
		require.NotEmpty(t, path, name)
		require.True(t, slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.Contains(v, ":"+path+":") }), name)
	}

	pt, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not found: prometheus.yml not checked")
		return
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
	require.NoError(t, err)
	rules, err := filepath.Abs("../../deploy/prometheus/alerts.yml")
	require.NoError(t, err)
	rewritten := regexp.MustCompile(`/etc/prometheus/alerts\.yml`).ReplaceAll(cfg, []byte(rules))
	tmp := filepath.Join(t.TempDir(), "prometheus.yml")
	require.NoError(t, os.WriteFile(tmp, rewritten, 0o600))
	out, err := exec.Command(pt, "check", "config", tmp).CombinedOutput()
	require.NoError(t, err, string(out))
}
