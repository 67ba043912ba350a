// Package snsapi serves the SNS API (the query protocol: a form with
// Action=<Operation>&Version=2010-03-31, answered in XML) over the topic
// service (package topics), and the unsigned links subscribers follow:
// the signing certificate, SubscribeURL and UnsubscribeURL.
package snsapi

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/sigv4"
	"github.com/aloft-dev/aloft/internal/topics"
)

// MaxBody is the largest request: a batch of ten messages of 256 KiB,
// form-encoded.
const MaxBody = 8 << 20

// Namespace is the XML namespace of SNS's answers.
const Namespace = "http://sns.amazonaws.com/doc/2010-03-31/"

// Server serves the SNS API.
type Server struct {
	t *topics.Service
	*awsproto.QueryAPI
	policies policy.Cache // topics' access policies
}

// ResourcePolicy returns the access policy a topic was given (its Policy
// attribute), or nil for the default: the front door evaluates it beside
// the caller's own policies.
func (s *Server) ResourcePolicy(resource string) *policy.Policy {
	return s.policies.Get(resource, s.t.Policy(resource))
}

// New returns the SNS API over t.
func New(t *topics.Service, log *slog.Logger) *Server {
	s := &Server{t: t, QueryAPI: &awsproto.QueryAPI{Version: "2010-03-31", Namespace: Namespace, Errors: wireError, Log: log}}
	for name, fn := range map[string]func(context.Context, url.Values) (any, error){
		"CreateTopic": s.createTopic, "DeleteTopic": s.deleteTopic, "ListTopics": s.listTopics,
		"GetTopicAttributes": s.getTopicAttributes, "SetTopicAttributes": s.setTopicAttributes,
		"Subscribe": s.subscribe, "ConfirmSubscription": s.confirm, "Unsubscribe": s.unsubscribe,
		"ListSubscriptions": s.listSubscriptions, "ListSubscriptionsByTopic": s.listSubscriptionsByTopic,
		"GetSubscriptionAttributes": s.getSubscriptionAttributes, "SetSubscriptionAttributes": s.setSubscriptionAttributes,
		"Publish": s.publish, "PublishBatch": s.publishBatch,
		"TagResource": s.tagResource, "UntagResource": s.untagResource, "ListTagsForResource": s.listTags,
	} {
		s.HandleQuery(name, fn)
	}
	return s
}

// Actions recognise SNS's unsigned requests.
var Actions = []string{"CreateTopic", "DeleteTopic", "ListTopics", "Subscribe", "Unsubscribe", "Publish", "PublishBatch",
	"ListSubscriptions", "ListSubscriptionsByTopic", "GetTopicAttributes", "SetTopicAttributes", "ConfirmSubscription"}

// IAMActions returns the IAM actions of the SNS API's operations.
func IAMActions() []string {
	var out []string
	for _, op := range New(nil, nil).Operations() {
		out = append(out, "sns:"+op)
	}
	return out
}

func wireError(err error) *awsproto.Error {
	var e *topics.Error
	if !errors.As(err, &e) {
		return nil
	}
	return &awsproto.Error{Status: awsproto.Status(e.Kind), Code: e.Code, Message: e.Message}
}

// failureOf words err where no operation's answer carries it (a batch
// entry's failure, a link's answer): a refusal of the topics service by
// wireError; a write the cluster cannot take now as the server's
// ServiceUnavailable (awsproto.Unavailable), which may be sent again;
// and any other failure as InternalError with message internal.
func failureOf(err error, internal string) *awsproto.Error {
	if e := wireError(err); e != nil {
		return e
	}
	if e := awsproto.Unavailable(awsproto.QueryXML, err); e != nil {
		return e
	}
	return &awsproto.Error{Status: http.StatusInternalServerError, Code: "InternalError", Message: internal, Err: err}
}

func invalid(msg string) error {
	return &topics.Error{Kind: fault.Invalid, Code: "InvalidParameter", Message: "Invalid parameter: " + msg}
}

func required(p url.Values, name string) (string, error) {
	v := p.Get(name)
	if v == "" {
		return "", &topics.Error{Kind: fault.Invalid, Code: "ValidationError", Message: "1 validation error detected: Value null at '" + lowerFirst(name) + "' failed to satisfy constraint: Member must not be null"}
	}
	return v, nil
}

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

func region(ctx context.Context) string {
	if r, ok := ctx.Value(regionKey{}).(string); ok && r != "" {
		return r
	}
	return awsproto.DefaultRegion
}

type regionKey struct{}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reg, _, _ := sigv4.Scope(r)
	s.QueryAPI.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), regionKey{}, reg)))
}

// entries reads a map flattened as prefix.entry.N.key/value.
func entries(p url.Values, prefix string) map[string]string {
	out := map[string]string{}
	for i := 1; ; i++ {
		k := p.Get(prefix + ".entry." + strconv.Itoa(i) + ".key")
		if k == "" {
			return out
		}
		out[k] = p.Get(prefix + ".entry." + strconv.Itoa(i) + ".value")
	}
}

// members reads a list of key/value pairs flattened as
// prefix.member.N.Key/Value.
func members(p url.Values, prefix string) map[string]string {
	out := map[string]string{}
	for i := 1; ; i++ {
		k := p.Get(prefix + ".member." + strconv.Itoa(i) + ".Key")
		if k == "" {
			return out
		}
		out[k] = p.Get(prefix + ".member." + strconv.Itoa(i) + ".Value")
	}
}

func list(p url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v := p.Get(prefix + ".member." + strconv.Itoa(i))
		if v == "" {
			return out
		}
		out = append(out, v)
	}
}

// messageAttributes reads prefix.entry.N.Name and .Value.DataType,
// .Value.StringValue, .Value.BinaryValue (base64).
func messageAttributes(p url.Values, prefix string) (map[string]topics.Attribute, error) {
	out := map[string]topics.Attribute{}
	for i := 1; ; i++ {
		base := prefix + ".entry." + strconv.Itoa(i)
		name := p.Get(base + ".Name")
		if name == "" {
			return out, nil
		}
		a := topics.Attribute{DataType: p.Get(base + ".Value.DataType"), StringValue: p.Get(base + ".Value.StringValue")}
		if b := p.Get(base + ".Value.BinaryValue"); b != "" {
			var err error
			if a.BinaryValue, err = base64.StdEncoding.DecodeString(b); err != nil {
				return nil, invalid("MessageAttributes: the binary value of " + name + " is not base64")
			}
		}
		out[name] = a
	}
}

type attributesXML struct {
	Entries []entryXML `xml:"Attributes>entry"`
}

type entryXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func toEntries(m map[string]string) *attributesXML {
	out := &attributesXML{}
	for _, k := range sortedKeys(m) {
		out.Entries = append(out.Entries, entryXML{k, m[k]})
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *Server) createTopic(ctx context.Context, p url.Values) (any, error) {
	name, err := required(p, "Name")
	if err != nil {
		return nil, err
	}
	if p.Get("DataProtectionPolicy") != "" {
		return nil, invalid("DataProtectionPolicy is not available here")
	}
	t, err := s.t.CreateTopic(ctx, name, region(ctx), entries(p, "Attributes"), members(p, "Tags"))
	if err != nil {
		return nil, err
	}
	return &struct {
		TopicArn string
	}{t.ARN}, nil
}

func topicName(p url.Values) (string, error) {
	arn, err := required(p, "TopicArn")
	if err != nil {
		return "", err
	}
	return topics.TopicName(arn)
}

func (s *Server) deleteTopic(ctx context.Context, p url.Values) (any, error) {
	name, err := topicName(p)
	if err != nil {
		return nil, err
	}
	return nil, s.t.DeleteTopic(ctx, name)
}

// page cuts a page of 100 from sorted, after token.
func page[T any](sorted []T, key func(T) string, token string) ([]T, string, error) {
	pg, next, ok := awsproto.Page(sorted, key, token, 100)
	if !ok {
		return nil, "", invalid("NextToken")
	}
	return pg, next, nil
}

func (s *Server) listTopics(ctx context.Context, p url.Values) (any, error) {
	pg, next, err := page(s.t.ListTopics(), func(a string) string { return a }, p.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	type member struct{ TopicArn string }
	out := &struct {
		Topics    []member `xml:"Topics>member"`
		NextToken string   `xml:",omitempty"`
	}{NextToken: next}
	for _, a := range pg {
		out.Topics = append(out.Topics, member{a})
	}
	return out, nil
}

func (s *Server) getTopicAttributes(ctx context.Context, p url.Values) (any, error) {
	name, err := topicName(p)
	if err != nil {
		return nil, err
	}
	attrs, err := s.t.TopicAttributes(name)
	if err != nil {
		return nil, err
	}
	return toEntries(attrs), nil
}

func (s *Server) setTopicAttributes(ctx context.Context, p url.Values) (any, error) {
	name, err := topicName(p)
	if err != nil {
		return nil, err
	}
	key, err := required(p, "AttributeName")
	if err != nil {
		return nil, err
	}
	return nil, s.t.SetTopicAttribute(ctx, name, key, p.Get("AttributeValue"))
}

type arnXML struct {
	SubscriptionArn string
}

func (s *Server) subscribe(ctx context.Context, p url.Values) (any, error) {
	name, err := topicName(p)
	if err != nil {
		return nil, err
	}
	protocol, err := required(p, "Protocol")
	if err != nil {
		return nil, err
	}
	endpoint := p.Get("Endpoint")
	attrs := entries(p, "Attributes")
	// Deliveries act for whoever subscribed: they must be allowed what
	// the deliveries will do.
	if c := edge.Principal(ctx); c != nil && c.Kind != iam.RootPrincipal {
		checks := map[string]string{}
		switch protocol {
		case "sqs":
			checks[endpoint] = "sqs:SendMessage"
		case "lambda":
			checks[endpoint] = "lambda:InvokeFunction"
		}
		if rp := attrs["RedrivePolicy"]; rp != "" {
			if arn := deadLetterARN(rp); arn != "" {
				checks[arn] = "sqs:SendMessage"
			}
		}
		for res, action := range checks {
			if err := c.Authorize(action, res); err != nil {
				return nil, &awsproto.Error{Status: http.StatusForbidden, Code: "AuthorizationError", Message: err.Error() + " (the subscription would do it)"}
			}
		}
	}
	owner := awsproto.AccountID
	sub, err := s.t.Subscribe(ctx, name, protocol, endpoint, owner, attrs)
	if err != nil {
		return nil, err
	}
	arn := sub.ARN
	if p.Get("ReturnSubscriptionArn") == "true" {
		arn = s.t.SubscriptionARN(name, protocol, endpoint)
	}
	return &arnXML{arn}, nil
}

func deadLetterARN(policy string) string {
	_, rest, ok := strings.Cut(policy, `"deadLetterTargetArn"`)
	if !ok {
		return ""
	}
	_, rest, _ = strings.Cut(rest, `"`)
	arn, _, _ := strings.Cut(rest, `"`)
	return arn
}

func (s *Server) confirm(ctx context.Context, p url.Values) (any, error) {
	name, err := topicName(p)
	if err != nil {
		return nil, err
	}
	token, err := required(p, "Token")
	if err != nil {
		return nil, err
	}
	arn, err := s.t.Confirm(ctx, name, token)
	if err != nil {
		return nil, err
	}
	return &arnXML{arn}, nil
}

func subscriptionID(p url.Values) (string, error) {
	arn, err := required(p, "SubscriptionArn")
	if err != nil {
		return "", err
	}
	return topics.SubscriptionID(arn)
}

func (s *Server) unsubscribe(ctx context.Context, p url.Values) (any, error) {
	id, err := subscriptionID(p)
	if err != nil {
		return nil, err
	}
	return nil, s.t.Unsubscribe(ctx, id)
}

func subscriptionsXML(subs []topics.Subscription, token string) (any, error) {
	pg, next, err := page(subs, func(s topics.Subscription) string { return s.TopicARN + s.Endpoint }, token)
	if err != nil {
		return nil, err
	}
	type member struct {
		SubscriptionArn, Owner, Protocol, Endpoint, TopicArn string
	}
	out := &struct {
		Subscriptions []member `xml:"Subscriptions>member"`
		NextToken     string   `xml:",omitempty"`
	}{NextToken: next}
	for _, s := range pg {
		out.Subscriptions = append(out.Subscriptions, member{s.ARN, s.Owner, s.Protocol, s.Endpoint, s.TopicARN})
	}
	return out, nil
}

func (s *Server) listSubscriptions(ctx context.Context, p url.Values) (any, error) {
	subs, err := s.t.Subscriptions("")
	if err != nil {
		return nil, err
	}
	return subscriptionsXML(subs, p.Get("NextToken"))
}

func (s *Server) listSubscriptionsByTopic(ctx context.Context, p url.Values) (any, error) {
	name, err := topicName(p)
	if err != nil {
		return nil, err
	}
	subs, err := s.t.Subscriptions(name)
	if err != nil {
		return nil, err
	}
	return subscriptionsXML(subs, p.Get("NextToken"))
}

func (s *Server) getSubscriptionAttributes(ctx context.Context, p url.Values) (any, error) {
	id, err := subscriptionID(p)
	if err != nil {
		return nil, err
	}
	attrs, err := s.t.SubscriptionAttributes(id)
	if err != nil {
		return nil, err
	}
	return toEntries(attrs), nil
}

func (s *Server) setSubscriptionAttributes(ctx context.Context, p url.Values) (any, error) {
	id, err := subscriptionID(p)
	if err != nil {
		return nil, err
	}
	key, err := required(p, "AttributeName")
	if err != nil {
		return nil, err
	}
	if key == "RedrivePolicy" {
		if c := edge.Principal(ctx); c != nil && c.Kind != iam.RootPrincipal {
			if arn := deadLetterARN(p.Get("AttributeValue")); arn != "" {
				if err := c.Authorize("sqs:SendMessage", arn); err != nil {
					return nil, &awsproto.Error{Status: http.StatusForbidden, Code: "AuthorizationError", Message: err.Error() + " (the subscription would do it)"}
				}
			}
		}
	}
	return nil, s.t.SetSubscriptionAttribute(ctx, id, key, p.Get("AttributeValue"))
}

// message reads one message's parameters under prefix ("" for Publish).
func message(p url.Values, prefix string) (*topics.Message, error) {
	for _, unsupported := range []string{"TargetArn", "PhoneNumber"} {
		if p.Get(prefix+unsupported) != "" {
			return nil, invalid(unsupported + " is not available here (no mobile push, no SMS)")
		}
	}
	attrs, err := messageAttributes(p, prefix+"MessageAttributes")
	if err != nil {
		return nil, err
	}
	return &topics.Message{Message: p.Get(prefix + "Message"), Subject: p.Get(prefix + "Subject"), Structure: p.Get(prefix + "MessageStructure"), Attributes: attrs,
		GroupID: p.Get(prefix + "MessageGroupId"), DedupID: p.Get(prefix + "MessageDeduplicationId")}, nil
}

func (s *Server) publish(ctx context.Context, p url.Values) (any, error) {
	if p.Get("TopicArn") == "" && (p.Get("TargetArn") != "" || p.Get("PhoneNumber") != "") {
		return nil, invalid("TargetArn and PhoneNumber are not available here (no mobile push, no SMS)")
	}
	name, err := topicName(p)
	if err != nil {
		return nil, err
	}
	m, err := message(p, "")
	if err != nil {
		return nil, err
	}
	res, err := s.t.PublishBatch(ctx, name, []*topics.Message{m})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	return &struct {
		MessageId      string
		SequenceNumber string `xml:",omitempty"`
	}{res[0].ID, res[0].Sequence}, nil
}

func (s *Server) publishBatch(ctx context.Context, p url.Values) (any, error) {
	name, err := topicName(p)
	if err != nil {
		return nil, err
	}
	type failed struct {
		Id, Code, Message string
		SenderFault       bool
	}
	type ok struct {
		Id, MessageId  string
		SequenceNumber string `xml:",omitempty"`
	}
	out := &struct {
		Successful []ok     `xml:"Successful>member"`
		Failed     []failed `xml:"Failed>member"`
	}{Successful: []ok{}, Failed: []failed{}}
	var ids []string
	var msgs []*topics.Message
	seen := map[string]bool{}
	size := 0
	for i := 1; ; i++ {
		prefix := "PublishBatchRequestEntries.member." + strconv.Itoa(i) + "."
		id := p.Get(prefix + "Id")
		if id == "" {
			if p.Get(prefix+"Message") != "" {
				return nil, &topics.Error{Kind: fault.Invalid, Code: "InvalidBatchEntryId", Message: "The Id of a batch entry in a batch request doesn't abide by the specification."}
			}
			break
		}
		if seen[id] {
			return nil, &topics.Error{Kind: fault.Invalid, Code: "BatchEntryIdsNotDistinct", Message: "Two or more batch entries in the request have the same Id."}
		}
		seen[id] = true
		m, err := message(p, prefix)
		if err != nil {
			return nil, err
		}
		size += len(m.Message)
		ids = append(ids, id)
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return nil, &topics.Error{Kind: fault.Invalid, Code: "EmptyBatchRequest", Message: "The batch request doesn't contain any entries."}
	}
	if len(msgs) > 10 {
		return nil, &topics.Error{Kind: fault.Invalid, Code: "TooManyEntriesInBatchRequest", Message: "The batch request contains more entries than permissible."}
	}
	if size > 256*1024 {
		return nil, &topics.Error{Kind: fault.Invalid, Code: "BatchRequestTooLong", Message: "The length of all the messages put together is more than the limit."}
	}
	res, err := s.t.PublishBatch(ctx, name, msgs)
	if err != nil {
		return nil, err
	}
	for i, r := range res {
		if r.Err != nil {
			w := failureOf(r.Err, "The message could not be published.")
			out.Failed = append(out.Failed, failed{ids[i], w.Code, w.Message, w.Status < 500})
			continue
		}
		out.Successful = append(out.Successful, ok{ids[i], r.ID, r.Sequence})
	}
	return out, nil
}

func resourceTopic(p url.Values) (string, error) {
	arn, err := required(p, "ResourceArn")
	if err != nil {
		return "", err
	}
	name, err := topics.TopicName(arn)
	if err != nil {
		return "", &topics.Error{Kind: fault.NotFound, Code: "ResourceNotFound", Message: "Resource does not exist"}
	}
	return name, nil
}

func (s *Server) tagResource(ctx context.Context, p url.Values) (any, error) {
	name, err := resourceTopic(p)
	if err != nil {
		return nil, err
	}
	return nil, s.t.Tag(ctx, name, members(p, "Tags"), nil)
}

func (s *Server) untagResource(ctx context.Context, p url.Values) (any, error) {
	name, err := resourceTopic(p)
	if err != nil {
		return nil, err
	}
	return nil, s.t.Tag(ctx, name, nil, list(p, "TagKeys"))
}

func (s *Server) listTags(ctx context.Context, p url.Values) (any, error) {
	name, err := resourceTopic(p)
	if err != nil {
		return nil, err
	}
	tags, err := s.t.Tags(name)
	if err != nil {
		return nil, err
	}
	type tag struct{ Key, Value string }
	out := &struct {
		Tags []tag `xml:"Tags>member"`
	}{Tags: []tag{}}
	for _, k := range sortedKeys(tags) {
		out.Tags = append(out.Tags, tag{k, tags[k]})
	}
	return out, nil
}

// Operation is the SNS API's table from requests to IAM actions and
// resources: sns:<Action> on the topic the request names (by TopicArn,
// Name, ResourceArn, or the topic of its SubscriptionArn), or "*" for
// the listings.
func Operation(r *http.Request, body []byte) (edge.Operation, *awsproto.Error) {
	p, aerr := awsproto.QueryParams(r, body)
	if aerr != nil {
		return edge.Operation{}, aerr
	}
	action := p.Get("Action")
	if action == "" {
		return edge.Operation{}, awsproto.Errorf(http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action.")
	}
	res := "*"
	switch {
	case p.Get("TopicArn") != "":
		res = p.Get("TopicArn")
	case action == "CreateTopic" && p.Get("Name") != "":
		reg, _, _ := sigv4.Scope(r)
		if reg == "" {
			reg = awsproto.DefaultRegion
		}
		res = "arn:aws:sns:" + reg + ":" + awsproto.AccountID + ":" + p.Get("Name")
	case p.Get("ResourceArn") != "":
		res = p.Get("ResourceArn")
	case p.Get("SubscriptionArn") != "":
		a := p.Get("SubscriptionArn")
		res = a[:max(strings.LastIndexByte(a, ':'), 0)]
	}
	return edge.Operation{Action: "sns:" + action, Resource: res}, nil
}

// Links serves the unsigned links of delivered messages: the signing
// certificate, SubscribeURL and UnsubscribeURL.
func (s *Server) Links() map[string]http.Handler {
	write := func(w http.ResponseWriter, r *http.Request, action string, v any, err error) {
		reqID := w.Header().Get("X-Amzn-Requestid")
		if err != nil {
			e := failureOf(err, "The request could not be served.")
			awsproto.WriteError(w, r, awsproto.QueryXML, e, reqID)
			return
		}
		type meta struct{ RequestId string }
		b, _ := xml.Marshal(struct {
			XMLName xml.Name
			Xmlns   string `xml:"xmlns,attr"`
			Result  any
			Meta    meta `xml:"ResponseMetadata"`
		}{XMLName: xml.Name{Local: action + "Response"}, Xmlns: Namespace, Result: v, Meta: meta{reqID}})
		w.Header().Set("Content-Type", "text/xml")
		w.Write(b)
	}
	return map[string]http.Handler{
		topics.CertPath: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Write(s.t.Certificate())
		}),
		topics.ConfirmPath: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name, err := topics.TopicName(r.URL.Query().Get("TopicArn"))
			var arn string
			if err == nil {
				arn, err = s.t.Confirm(r.Context(), name, r.URL.Query().Get("Token"))
			}
			write(w, r, "ConfirmSubscription", &struct {
				XMLName         xml.Name `xml:"ConfirmSubscriptionResult"`
				SubscriptionArn string
			}{SubscriptionArn: arn}, err)
		}),
		topics.UnsubscribePath: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			err := s.t.UnsubscribeByLink(r.Context(), r.URL.Query().Get("SubscriptionArn"), r.URL.Query().Get("Token"))
			write(w, r, "Unsubscribe", nil, err)
		}),
	}
}
