// Command gwecho is a test function for the HTTP gateway, built with
// aws-lambda-go. It reads the event with the events package's types and,
// depending on the "op" query parameter, echoes the event it received or
// answers in one of the shapes a proxy integration may return.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// request holds the members of payload formats 1.0 and 2.0 the function
// acts on.
type request struct {
	Query           map[string]string `json:"queryStringParameters"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

func main() { lambda.Start(handle) }

// noop is the answer of op=noop, for benchmarks.
var noop = map[string]any{"statusCode": 200, "body": "ok"}

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, err
	}
	switch req.Query["op"] {
	case "noop":
		return noop, nil
	case "dict":
		return map[string]any{"hello": "world", "n": 1}, nil
	case "string":
		return "plain text answer", nil
	case "full":
		return events.APIGatewayV2HTTPResponse{
			StatusCode:        201,
			Headers:           map[string]string{"content-type": "text/plain", "x-custom": "yes"},
			MultiValueHeaders: map[string][]string{"x-multi": {"a", "b"}},
			Cookies:           []string{"c1=v1; Path=/", "c2=v2"},
			Body:              "created",
		}, nil
	case "binary":
		body := []byte(req.Body)
		if req.IsBase64Encoded {
			var err error
			if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
				return nil, err
			}
		}
		return events.APIGatewayV2HTTPResponse{
			StatusCode: 200,
			Headers: map[string]string{"content-type": "application/octet-stream",
				"x-request-base64": strconv.FormatBool(req.IsBase64Encoded)},
			Body:            base64.StdEncoding.EncodeToString(body),
			IsBase64Encoded: true,
		}, nil
	case "malformed":
		return map[string]any{"statusCode": "not a status"}, nil
	case "error":
		return nil, errors.New("the handler failed on purpose")
	case "sleep":
		// Past the deadline too: the platform must end the invocation.
		ms, _ := strconv.Atoi(req.Query["ms"])
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       string(raw),
	}, nil
}
