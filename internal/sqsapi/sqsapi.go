// Package sqsapi serves the SQS API over the queue service (package
// queues), in both of its wire protocols, told apart per request: AWS
// JSON 1.0 (X-Amz-Target: AmazonSQS.<Operation>), which current SDKs and
// CLIs send, with query-compatible errors; and the query protocol (a form
// with Action=<Operation>&Version=2012-11-05, answered in XML), which
// older ones send. Each operation is written once, against the JSON
// shapes; a query request's parameters are rearranged into those shapes
// (see query.go) and its answer written as the query protocol's XML.
//
// Requests may go to / or to a queue's URL (/<account>/<name>), whose
// queue is then the request's when it names none.
package sqsapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/queues"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// MaxBody is the largest request the API takes: a batch of ten messages
// of 1 MiB at most in all, in JSON or form encoding.
const MaxBody = 4 << 20

// Server serves the SQS API.
type Server struct {
	q        *queues.Service
	json     *awsproto.JSONAPI
	query    *awsproto.QueryAPI
	policies policy.Cache // queues' access policies
}

// ResourcePolicy returns the queue policy (its Policy attribute) of the
// queue the resource ARN names, or nil: the front door evaluates it
// beside the caller's own policies.
func (s *Server) ResourcePolicy(resource string) *policy.Policy {
	return s.policies.Get(resource, s.q.Policy(resource))
}

// New returns the SQS API over service q.
func New(q *queues.Service, log *slog.Logger) *Server {
	s := &Server{q: q,
		json:  &awsproto.JSONAPI{Protocol: awsproto.JSON10Query, Prefix: "AmazonSQS", Errors: wireError, Log: log},
		query: &awsproto.QueryAPI{Version: "2012-11-05", Namespace: "http://queue.amazonaws.com/doc/2012-11-05/", Errors: wireError, Log: log},
	}
	s.routes()
	return s
}

// Recognize tells an unsigned SQS request: by its JSON target, or by a
// query action only SQS has.
func Recognize(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.") {
		return true
	}
	return edge.Action(queryOnly...)(r)
}

// Protocol is the protocol request r speaks: JSON with its target
// header, the query protocol without.
func Protocol(r *http.Request) awsproto.Protocol {
	if r.Header.Get("X-Amz-Target") != "" {
		return awsproto.JSON10Query
	}
	return awsproto.QueryXML
}

// queryOnly are actions only SQS has, which recognise its unsigned query
// requests.
var queryOnly = []string{"CreateQueue", "DeleteQueue", "ListQueues", "GetQueueUrl", "GetQueueAttributes", "SetQueueAttributes",
	"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
	"ChangeMessageVisibilityBatch", "PurgeQueue", "TagQueue", "UntagQueue", "ListQueueTags", "ListDeadLetterSourceQueues",
	"StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks"}

// ServeHTTP serves one request of either protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := context.WithValue(r.Context(), reqKey{}, &reqInfo{base: baseURL(r), pathQueue: pathQueue(r.URL.Path), region: region(r)})
	r = r.WithContext(ctx)
	if r.Header.Get("X-Amz-Target") != "" {
		s.json.ServeHTTP(w, r)
		return
	}
	s.query.ServeHTTP(w, r)
}

type reqKey struct{}

// reqInfo is what operations need of the request beyond its parameters.
type reqInfo struct {
	base      string // scheme and host the client reached, for queue URLs
	pathQueue string // the queue of a request sent to a queue's URL
	region    string
}

func info(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(reqKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{base: "http://localhost", region: awsproto.DefaultRegion}
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func region(r *http.Request) string {
	if reg, _, _ := sigv4.Scope(r); reg != "" {
		return reg
	}
	return awsproto.DefaultRegion
}

// pathQueue returns the queue name of a queue URL's path,
// /<account>/<name>, or "".
func pathQueue(p string) string {
	acct, name, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !ok || acct != awsproto.AccountID || name == "" || strings.Contains(name, "/") {
		return ""
	}
	return name
}

// queueURL is the URL of queue name for the request in ctx.
func queueURL(ctx context.Context, name string) string {
	return info(ctx).base + "/" + awsproto.AccountID + "/" + name
}

// queueName returns the queue a request names by QueueUrl (any host:
// clients reach a node by the address they were given), or by the path
// it was sent to.
func queueName(ctx context.Context, queueURL string) (string, error) {
	if queueURL == "" {
		if n := info(ctx).pathQueue; n != "" {
			return n, nil
		}
		return "", &queues.Error{Kind: fault.Invalid, Code: queues.MissingParameter, Message: "The request must contain the parameter QueueUrl."}
	}
	u, err := url.Parse(queueURL)
	if err != nil || u.Path == "" {
		return "", invalidQueueURL(queueURL)
	}
	name := pathQueue(u.Path)
	if name == "" {
		if strings.Count(strings.Trim(u.Path, "/"), "/") == 1 {
			// Another account's queue.
			return "", &queues.Error{Kind: fault.Invalid, Code: queues.QueueDoesNotExist, Message: "The specified queue does not exist."}
		}
		return "", invalidQueueURL(queueURL)
	}
	return name, nil
}

func invalidQueueURL(u string) error {
	return &queues.Error{Kind: fault.Invalid, Code: "InvalidAddress", Message: "The address " + u + " is not valid for this endpoint."}
}

// queryCodes are the codes query clients see for the errors whose JSON
// name differs.
var queryCodes = map[string]string{
	queues.QueueDoesNotExist:            "AWS.SimpleQueueService.NonExistentQueue",
	queues.QueueNameExists:              "QueueAlreadyExists",
	queues.PurgeQueueInProgress:         "AWS.SimpleQueueService.PurgeQueueInProgress",
	queues.UnsupportedOperation:         "AWS.SimpleQueueService.UnsupportedOperation",
	queues.TooManyEntriesInBatchRequest: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
	queues.EmptyBatchRequest:            "AWS.SimpleQueueService.EmptyBatchRequest",
	queues.BatchEntryIdsNotDistinct:     "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
	queues.InvalidBatchEntryID:          "AWS.SimpleQueueService.InvalidBatchEntryId",
	queues.BatchRequestTooLong:          "AWS.SimpleQueueService.BatchRequestTooLong",
}

// wireError is the API's one table from the service's errors to the
// wire.
func wireError(err error) *awsproto.Error {
	var e *queues.Error
	if !errors.As(err, &e) {
		return nil
	}
	status := awsproto.Status(e.Kind)
	if e.Kind == fault.NotFound {
		status = http.StatusBadRequest // SQS answers every client error 400 but these
	}
	return &awsproto.Error{Status: status, Code: e.Code, QueryCode: queryCodes[e.Code], Message: e.Message}
}
