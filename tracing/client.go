package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultTimeout bounds one request to the coordinator when
// [Client.HTTPClient] is nil.
const DefaultTimeout = 10 * time.Second

// receiversPath is the receivers API, relative to the coordinator's URL.
const receiversPath = "api/v1/receivers"

// maxAnswer bounds how much of a coordinator's answer is read.
const maxAnswer = 1 << 20

// maxMessage bounds how much of an error answer goes into a [StatusError].
const maxMessage = 4 << 10

var defaultHTTPClient = &http.Client{Timeout: DefaultTimeout}

// Client asks a coordinator for receivers. The zero value is not usable:
// Coordinator must be set. A Client is safe for concurrent use.
type Client struct {
	// Coordinator is the coordinator's base URL, such as
	// "http://coordinator:3200" (its HTTP port). A "host:port" without a
	// scheme means http. A path is kept: "http://proxy/pace" asks
	// "http://proxy/pace/api/v1/receivers".
	Coordinator string
	// Name identifies this client to the coordinator (the request's
	// "client" field). Empty means the base name of the running program.
	Name string
	// HTTPClient sends the requests, for instance one set up for an https
	// coordinator. Nil means a client whose timeout is [DefaultTimeout].
	HTTPClient *http.Client
}

// Endpoints is a coordinator's answer: the URL of every enabled receiver
// protocol, and whether the cluster is ready to take traces.
type Endpoints struct {
	// Ready is false while the coordinator's cluster is not coherent;
	// clients treat tracing as off until it is true.
	Ready bool
	// URLs maps each enabled protocol to its URL, which always carries a
	// scheme (http:// or https://). Protocols the coordinator names but
	// this package does not know are kept too.
	URLs map[Protocol]string
}

// URL returns the endpoint for p, or "" when the coordinator offers none.
// It is safe on a nil *Endpoints.
func (e *Endpoints) URL(p Protocol) string {
	if e == nil {
		return ""
	}
	return e.URLs[p]
}

// StatusError is the error for a coordinator that answered with a status
// other than 2xx, such as a 400 for an unknown protocol.
type StatusError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the coordinator's message: the "error" or "message" field
	// of a JSON answer, else the answer's text, trimmed.
	Message string
}

// Error returns the status and the coordinator's message.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("tracing: coordinator answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// receiverRequest is the body of POST /api/v1/receivers.
type receiverRequest struct {
	Client    string     `json:"client"`
	Protocols []Protocol `json:"protocols"`
}

// receiversAnswer is the body of a 200 to GET or POST /api/v1/receivers.
type receiversAnswer struct {
	Receivers []struct {
		Protocol Protocol `json:"protocol"`
		URL      string   `json:"url"`
	} `json:"receivers"`
	Ready bool `json:"ready"`
}

// Request asks the coordinator to enable protocols for this client
// (POST /api/v1/receivers) and returns its answer, which lists every enabled
// protocol, not only those asked for. Protocol names are checked before
// anything is sent: an unknown one is an error wrapping
// [ErrUnknownProtocol]. Repeated protocols are sent once.
func (c *Client) Request(ctx context.Context, protocols ...Protocol) (*Endpoints, error) {
	req := receiverRequest{Client: c.name(), Protocols: make([]Protocol, 0, len(protocols))}
	seen := make(map[Protocol]bool, len(protocols))
	for _, p := range protocols {
		if err := p.check(); err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			req.Protocols = append(req.Protocols, p)
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("tracing: encoding request: %w", err)
	}
	return c.do(ctx, http.MethodPost, body)
}

// Get returns the coordinator's receivers without asking for any
// (GET /api/v1/receivers).
func (c *Client) Get(ctx context.Context) (*Endpoints, error) {
	return c.do(ctx, http.MethodGet, nil)
}

func (c *Client) name() string {
	if c.Name != "" {
		return c.Name
	}
	if exe, err := os.Executable(); err == nil {
		return filepath.Base(exe)
	}
	return filepath.Base(os.Args[0])
}

func (c *Client) url() (string, error) {
	base := strings.TrimSpace(c.Coordinator)
	if base == "" {
		return "", errors.New("tracing: no coordinator URL")
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("tracing: coordinator URL: %w", err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("tracing: coordinator URL %q: want http(s)://host:port", c.Coordinator)
	}
	return u.JoinPath(receiversPath).String(), nil
}

func (c *Client) do(ctx context.Context, method string, body []byte) (*Endpoints, error) {
	target, err := c.url()
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tracing: asking the coordinator for receivers: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("tracing: reading the coordinator's answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{StatusCode: resp.StatusCode, Message: message(data)}
	}
	var a receiversAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("tracing: decoding the coordinator's answer: %w", err)
	}
	e := &Endpoints{Ready: a.Ready, URLs: make(map[Protocol]string, len(a.Receivers))}
	for _, r := range a.Receivers {
		if r.Protocol != "" && r.URL != "" {
			e.URLs[r.Protocol] = r.URL
		}
	}
	return e, nil
}

// message extracts the coordinator's message from an error answer.
func message(data []byte) string {
	var j struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &j) == nil {
		if j.Error != "" {
			return trimMessage(j.Error)
		}
		if j.Message != "" {
			return trimMessage(j.Message)
		}
	}
	return trimMessage(string(data))
}

func trimMessage(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxMessage {
		s = strings.ToValidUTF8(s[:maxMessage], "") + "…"
	}
	return s
}
