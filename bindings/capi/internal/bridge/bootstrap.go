package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/worker"
)

// bootstrapTimeout bounds connecting, checking the schema, registering the
// templates and ensuring the queues.
const bootstrapTimeout = 60 * time.Second

// bootstrapConfig is the configuration JSON of tasker_worker_bootstrap.
type bootstrapConfig struct {
	Callables     []string       `json:"callables"`
	Language      string         `json:"language"`
	WorkerID      string         `json:"worker_id"`
	Environment   string         `json:"environment"`
	ConfigRoot    string         `json:"config_root"`
	DatabaseURL   string         `json:"database_url"`
	TemplatePaths []string       `json:"template_paths"`
	Namespaces    []string       `json:"namespaces"`
	Overrides     map[string]any `json:"overrides"`
	// PollSpinUs is how long a blocked poll keeps its thread checking for
	// a step before it sleeps, in microseconds (0: it sleeps at once).
	PollSpinUs int `json:"poll_spin_us"`
}

// MaxPollSpinUs bounds poll_spin_us.
const MaxPollSpinUs = 100_000

var languageRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// readBootstrapConfig decodes and checks the configuration JSON, reporting
// every problem at once.
func readBootstrapConfig(data []byte) (bootstrapConfig, *Error) {
	var bc bootstrapConfig
	if !utf8.Valid(data) {
		return bc, fail(CodeInvalidJSON, "the configuration is not UTF-8")
	}
	if !json.Valid(data) {
		return bc, fail(CodeInvalidJSON, "the configuration is not valid JSON: %v", jsonSyntaxError(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&bc); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return bc, fail(CodeInvalidConfig, "%s: must not be %s", te.Field, te.Value)
		case errors.As(err, &te):
			return bc, fail(CodeInvalidConfig, "the configuration must be a JSON object, got %s", te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return bc, fail(CodeInvalidConfig, "unknown key %s (known: callables, language, worker_id, environment, "+
				"config_root, database_url, template_paths, namespaces, overrides, poll_spin_us)", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return bc, fail(CodeInvalidConfig, "%v", err)
	}
	var problems []string
	if len(bc.Callables) == 0 {
		problems = append(problems, "callables: required: the handler callables this host can run")
	}
	for i, c := range bc.Callables {
		if strings.TrimSpace(c) == "" || len(c) > 500 {
			problems = append(problems, fmt.Sprintf("callables[%d]: must be 1 to 500 characters, not blank", i))
		}
	}
	if !languageRE.MatchString(bc.Language) {
		problems = append(problems, fmt.Sprintf("language: required: a lower-case name such as \"ruby\" or \"python\", got %s", quote(bc.Language)))
	}
	if bc.PollSpinUs < 0 || bc.PollSpinUs > MaxPollSpinUs {
		problems = append(problems, fmt.Sprintf("poll_spin_us: must be 0 to %d, got %d", MaxPollSpinUs, bc.PollSpinUs))
	}
	if len(bc.WorkerID) > 128 {
		problems = append(problems, fmt.Sprintf("worker_id: must be at most 128 characters, got %d", len(bc.WorkerID)))
	}
	for i, p := range bc.TemplatePaths {
		if info, err := os.Stat(p); err != nil || !info.IsDir() {
			problems = append(problems, fmt.Sprintf("template_paths[%d]: %s is not a directory", i, quote(p)))
		}
	}
	if len(problems) > 0 {
		return bc, fail(CodeInvalidConfig, "%s", strings.Join(problems, "\n"))
	}
	return bc, nil
}

// jsonSyntaxError says where a document stops being JSON.
func jsonSyntaxError(data []byte) error {
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%v (at byte %d)", se, se.Offset)
	}
	return err
}

// webEnabled reports whether the overrides switch the worker's HTTP server
// on (it is off for bindings unless they do).
func webEnabled(overrides map[string]any) bool {
	w, _ := overrides["worker"].(map[string]any)
	web, _ := w["web"].(map[string]any)
	on, _ := web["enabled"].(bool)
	return on
}

// Bootstrap starts a worker from the configuration JSON (see docs/capi.md)
// and returns its handle: {"handle", "worker_id", "namespaces",
// "callables", "environment"}.
func (l *Library) Bootstrap(configJSON []byte) []byte {
	bc, ferr := readBootstrapConfig(configJSON)
	if ferr != nil {
		return ErrorReply(ferr)
	}
	callables := map[string]bool{}
	for _, c := range bc.Callables {
		callables[c] = true
	}
	id := bc.WorkerID
	if id == "" {
		id = bc.Language + "-worker-" + uuid.NewString()
	}
	host := &hostExecutor{callables: callables, language: bc.Language}
	web := webEnabled(bc.Overrides)
	ctx, cancel := context.WithTimeout(context.Background(), bootstrapTimeout)
	defer cancel()
	svc, err := worker.Open(ctx, worker.OpenOptions{
		Fallback:    host,
		ConfigRoot:  bc.ConfigRoot,
		Environment: bc.Environment,
		Environ:     nonNilEnviron(l.environ()),
		Overrides:   bc.Overrides, OverridesSource: "bootstrap overrides",
		DatabaseURL:   bc.DatabaseURL,
		TemplatePaths: bc.TemplatePaths,
		Namespaces:    bc.Namespaces,
		WorkerID:      id,
		Name:          bc.Language + "-worker",
		Logger:        l.log,
		Configure: func(cfg *config.Config) {
			if !web {
				cfg.Worker.Web.Enabled = false
			}
			host.exec = worker.NewChannelExecutor(worker.ChannelExecutorConfig{
				Spin: time.Duration(bc.PollSpinUs) * time.Microsecond})
		},
	})
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			return ErrorReply(fail(CodeInvalidConfig, "%v", err))
		}
		return ErrorReply(fail(CodeBootstrapFailed, "%v", err))
	}
	if err := svc.Start(ctx); err != nil {
		_ = svc.Stop(context.Background())
		return ErrorReply(fail(CodeBootstrapFailed, "starting the worker: %v", err))
	}
	w := newHostWorker(l, svc, host, bc)
	handle := l.add(w)
	w.log.Info("worker bootstrapped through the C ABI", "handle", handle, "language", bc.Language,
		"namespaces", svc.Core().Namespaces(), "callables", len(callables))
	return Reply(struct {
		Handle      uint64   `json:"handle"`
		WorkerID    string   `json:"worker_id"`
		Namespaces  []string `json:"namespaces"`
		Callables   []string `json:"callables"`
		Environment string   `json:"environment"`
	}{handle, svc.Core().WorkerID(), svc.Core().Namespaces(), w.callables, svc.Config().Env})
}

func nonNilEnviron(env []string) []string {
	if env == nil {
		return []string{}
	}
	return env
}

// hostExecutor hands the steps whose callable the host declared to the
// host through a ChannelExecutor. It lists those callables (it is a
// worker.CallableSet), so the worker claims only their steps and leaves the
// others to workers that have their handlers; a step that reaches it anyway
// (a worker started with an older schema) fails with handler_not_found.
type hostExecutor struct {
	exec      *worker.ChannelExecutor
	callables map[string]bool
	language  string
}

var (
	_ worker.CallableSet   = (*hostExecutor)(nil)
	_ worker.AsyncExecutor = (*hostExecutor)(nil)
)

// Callables lists the callables the host declared at bootstrap.
func (h *hostExecutor) Callables() []string { return sortedKeys(h.callables) }

func (h *hostExecutor) Execute(ctx context.Context, step *worker.StepContext) worker.Result {
	if !h.callables[step.Callable()] {
		return h.notFound(step)
	}
	return h.exec.Execute(ctx, step)
}

// ExecuteAsync queues the step for the host's polls; the host's
// tasker_complete_step_event processes its result on the host's thread.
func (h *hostExecutor) ExecuteAsync(ctx context.Context, step *worker.StepContext, done func(worker.Result, bool)) {
	if !h.callables[step.Callable()] {
		done(h.notFound(step), true)
		return
	}
	h.exec.ExecuteAsync(ctx, step, done)
}

func (h *hostExecutor) notFound(step *worker.StepContext) worker.Result {
	return worker.ResultOf(nil, &worker.Error{Err: fmt.Errorf("no handler is registered for callable %q in this %s worker "+
		"(its bootstrap callables do not name it)", step.Callable(), h.language),
		Type: stepresult.ErrorTypeHandlerNotFound, Permanent: true})
}

// sortedKeys lists a set's members in order.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
