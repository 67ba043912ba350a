package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/meter"
)

// UsagePath is the path of Aloft's usage endpoint.
const UsagePath = "/aloft/v1/usage"

// emptyPayloadHash is the SHA-256 of an empty body, as SigV4 wants it.
var emptyPayloadHash = func() string {
	sum := sha256.Sum256(nil)
	return hex.EncodeToString(sum[:])
}()

// Usage fetches the server's usage report. Errors the server reports are
// returned as smithy.APIError, like the SDK clients do; a server that cannot
// be reached yields a *smithyhttp.RequestSendError.
func (c *Client) Usage(ctx context.Context) (*meter.Report, error) {
	var u meter.Report
	if err := c.getJSON(ctx, UsagePath, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// QueuePath is the path of Aloft's asynchronous queue statistics.
const QueuePath = "/aloft/v1/queue"

// QueueStats fetches the counters of the asynchronous queue, per function.
func (c *Client) QueueStats(ctx context.Context) ([]async.Stats, error) {
	var out struct {
		Functions []async.Stats `json:"Functions"`
	}
	if err := c.getJSON(ctx, QueuePath, &out); err != nil {
		return nil, err
	}
	return out.Functions, nil
}

// getJSON sends a signed GET for one of Aloft's own endpoints and decodes
// the JSON answer into out.
func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Endpoint+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptyPayloadHash, "lambda", c.Region, time.Now()); err != nil {
		return fmt.Errorf("signing the request for %s: %w", path, err)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading the response of %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return responseError(resp, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding the response of %s: %w", path, err)
	}
	return nil
}

// responseError turns an error response in the Lambda style (an
// X-Amzn-ErrorType header and a JSON body with a message) into an APIError.
func responseError(resp *http.Response, body []byte) error {
	var doc struct {
		Type       string `json:"__type"`
		Code       string `json:"code"`
		Message    string `json:"Message"`
		LowMessage string `json:"message"`
	}
	_ = json.Unmarshal(body, &doc) // a body that is not JSON is reported as text
	code := resp.Header.Get("X-Amzn-ErrorType")
	for _, c := range []string{doc.Type, doc.Code} {
		if code == "" {
			code = c
		}
	}
	// Header and __type may carry a namespace or a URL; keep the bare name.
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "")
		if code == "" {
			code = fmt.Sprintf("HTTP%d", resp.StatusCode)
		}
	}
	msg := doc.Message
	if msg == "" {
		msg = doc.LowMessage
	}
	if msg == "" && !json.Valid(body) {
		msg = strings.TrimSpace(string(body))
		if line, _, ok := strings.Cut(msg, "\n"); ok {
			msg = line
		}
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
	}
	fault := smithy.FaultClient
	if resp.StatusCode >= 500 {
		fault = smithy.FaultServer
	}
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}

// KeepAlive fetches the adaptive keep-alive state of a function.
func (c *Client) KeepAlive(ctx context.Context, name string) (map[string]any, error) {
	var out map[string]any
	if err := c.getJSON(ctx, "/aloft/v1/functions/"+url.PathEscape(name)+"/keepalive", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// RuntimesPath is the path of Aloft's list of the runtimes its host runs.
const RuntimesPath = "/aloft/v1/runtimes"

// Runtime is one runtime the server's host runs, with its interpreter.
type Runtime struct {
	Runtime     string `json:"Runtime"`
	Interpreter string `json:"Interpreter"`
}

// Runtimes lists the runtimes the server's host runs.
func (c *Client) Runtimes(ctx context.Context) ([]Runtime, error) {
	var out struct {
		Runtimes []Runtime `json:"Runtimes"`
	}
	if err := c.getJSON(ctx, RuntimesPath, &out); err != nil {
		return nil, err
	}
	return out.Runtimes, nil
}
