// Package client is a Go client for the Tasker orchestration REST API: create
// and follow tasks, inspect and fix steps, browse templates and the DLQ, and
// check health. The `tasker` CLI and `tasker bench` are built on it.
//
// Its request and response types are those of package api (Task is
// api.TaskResponse, Step is api.StepResponse, …): the server answers with
// the same types, so client and server cannot drift apart.
//
//	c := client.New("http://localhost:8080")
//	task, err := c.CreateTask(ctx, client.TaskRequest{Namespace: "examples_linear", Name: "square_chain",
//		Context: json.RawMessage(`{"even_number": 6}`)})
//	final, err := c.Wait(ctx, task.TaskUUID, func(e client.Event) { fmt.Println(e.Kind, e.StepName, e.ToState) })
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tasker-go/tasker/api"
)

// Client talks to one orchestration server.
type Client struct {
	base      *url.URL
	http      *http.Client
	token     string
	apiKey    string
	keyHeader string
	hook      func(method, path string, status int, body []byte)
	strict    bool
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (default: 30 s timeout for
// ordinary calls; event streams are not subject to it).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithToken sends Authorization: Bearer token with every request (a JWT;
// see docs/security.md). It wins over WithAPIKey.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// DefaultAPIKeyHeader is the header WithAPIKey sends the key in unless
// WithAPIKeyHeader names another.
const DefaultAPIKeyHeader = "X-API-Key" //nolint:gosec // a header name, not a credential

// WithAPIKey sends an API key with every request, in the X-API-Key header
// (or the one WithAPIKeyHeader names).
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithAPIKeyHeader names the header WithAPIKey uses (the server's
// web.auth.api_key_header).
func WithAPIKeyHeader(name string) Option { return func(c *Client) { c.keyHeader = name } }

// WithResponseHook calls fn with every JSON response the client reads
// (successes and errors; not event streams), exactly as the server sent it.
// Tools that print the server's own JSON, like `tasker --output json`, use
// it next to the typed methods. fn must not keep body beyond the call
// without copying it.
func WithResponseHook(fn func(method, path string, status int, body []byte)) Option {
	return func(c *Client) { c.hook = fn }
}

// WithStrictDecoding makes a response that carries a field the client's
// types do not know an error (json.Decoder.DisallowUnknownFields), instead
// of ignoring the field. Tests use it to hold client and server to one
// contract; a program may use it to notice a server newer than itself.
func WithStrictDecoding() Option { return func(c *Client) { c.strict = true } }

// New returns a client for the server at baseURL (for example
// http://localhost:8080).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("invalid server URL %q: want something like http://localhost:8080", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Timeout: 30 * time.Second}, keyHeader: DefaultAPIKeyHeader}
	for _, o := range opts {
		o(c)
	}
	if c.keyHeader == "" {
		c.keyHeader = DefaultAPIKeyHeader
	}
	return c, nil
}

// authorize adds the client's credential to a request.
func (c *Client) authorize(req *http.Request) {
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.apiKey != "":
		req.Header.Set(c.keyHeader, c.apiKey)
	}
}

// BaseURL is the server's URL.
func (c *Client) BaseURL() string { return c.base.String() }

// Error is an error response from the server.
type Error struct {
	Status     int
	Code       string
	Message    string
	Details    []FieldError
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s (HTTP %d): %s", e.Code, e.Status, e.Message)
	for _, d := range e.Details {
		where := d.Pointer
		if where == "" {
			where = d.Parameter
		}
		fmt.Fprintf(&sb, "\n  %s: %s", where, d.Message)
	}
	return sb.String()
}

// ConnectionError means the server could not be reached at all.
type ConnectionError struct {
	URL string
	Err error
}

func (e *ConnectionError) Error() string {
	msg := fmt.Sprintf("cannot reach the Tasker server at %s: %v", e.URL, e.Err)
	if errors.Is(e.Err, syscall.ECONNREFUSED) {
		msg += "\n(is it running? start one with `tasker server` or `tasker dev`, or point --url / TASKER_URL at it)"
	}
	return msg
}

func (e *ConnectionError) Unwrap() error { return e.Err }

// IsUnauthorized reports a 401 (no valid credential) or 403 (the
// credential lacks the route's permission) from the server.
func IsUnauthorized(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// IsNotFound reports a 404 from the server.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// do sends a request and decodes a JSON response into out (when non-nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	return c.doAccepting(ctx, method, path, q, body, out, nil)
}

// doAccepting is do, except that an error status for which accept returns
// true is decoded into out like a success.
func (c *Client) doAccepting(ctx context.Context, method, path string, q url.Values, body, out any,
	accept func(status int, data []byte) bool) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		var oe *net.OpError
		if errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) {
			return &ConnectionError{URL: c.base.String(), Err: err}
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading response: %w", err)
	}
	if c.hook != nil {
		c.hook(method, path, resp.StatusCode, data)
	}
	if resp.StatusCode >= 400 && (accept == nil || !accept(resp.StatusCode, data)) {
		return c.decodeError(resp, data)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	if err := c.decode(data, out); err != nil {
		return fmt.Errorf("decoding %s %s response: %w", method, path, err)
	}
	return nil
}

// decode reads one JSON document into out, refusing unknown fields in
// strict mode.
func (c *Client) decode(data []byte, out any) error {
	if !c.strict {
		return json.Unmarshal(data, out)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON document")
	}
	return nil
}

func (c *Client) decodeError(resp *http.Response, data []byte) error {
	var env api.ErrorResponse
	e := &Error{Status: resp.StatusCode}
	if c.decode(data, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Details = env.Error.Code, env.Error.Message, env.Error.Details
		e.RetryAfter = time.Duration(env.Error.RetryAfterSeconds) * time.Second
	} else {
		e.Code = strings.ToUpper(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_"))
		e.Message = strings.TrimSpace(string(data))
	}
	if s := resp.Header.Get("Retry-After"); s != "" && e.RetryAfter == 0 {
		if n, err := strconv.Atoi(s); err == nil {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}
