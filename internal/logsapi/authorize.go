package logsapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// Operation is the Logs API's table from requests to IAM actions and
// resources, for the front door's authorization: logs:<Operation> on the
// log group the request names (its stream's ARN for the stream
// operations), or "*" for those that name none.
func Operation(r *http.Request, body []byte) (edge.Operation, *awsproto.Error) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328.")
	if !ok || op == "" {
		return edge.Operation{}, nil
	}
	var in struct {
		LogGroupName       string `json:"logGroupName"`
		LogGroupIdentifier string `json:"logGroupIdentifier"`
		LogStreamName      string `json:"logStreamName"`
	}
	json.Unmarshal(body, &in) // a body that is not JSON is the API's to refuse
	group := in.LogGroupName
	if group == "" {
		group = in.LogGroupIdentifier
	}
	if strings.HasPrefix(group, "arn:") {
		_, rest, _ := strings.Cut(group, ":log-group:")
		group = strings.TrimSuffix(rest, ":*")
	}
	if group == "" {
		return edge.Operation{Action: "logs:" + op, Resource: "*"}, nil
	}
	region, _, _ := sigv4.Scope(r)
	if region == "" {
		region = awsproto.DefaultRegion
	}
	res := "arn:aws:logs:" + region + ":" + awsproto.AccountID + ":log-group:" + group + ":"
	switch op {
	case "PutLogEvents", "CreateLogStream", "DeleteLogStream", "GetLogEvents":
		res += "log-stream:" + in.LogStreamName
	default:
		res += "*"
	}
	return edge.Operation{Action: "logs:" + op, Resource: res}, nil
}

// Actions returns the IAM actions of the Logs API's operations.
func Actions() []string {
	var out []string
	for _, op := range New(nil, nil).(*awsproto.JSONAPI).Operations() {
		out = append(out, "logs:"+op)
	}
	return out
}
