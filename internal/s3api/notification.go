package s3api

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// notificationEvents are the event types a function configuration may
// name.
var notificationEvents = []string{
	"s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
	"s3:ObjectCreated:CompleteMultipartUpload",
	"s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
	"s3:LifecycleExpiration:*", "s3:LifecycleExpiration:Delete", "s3:LifecycleExpiration:DeleteMarkerCreated",
}

// notificationConfiguration is the XML of Put/GetBucketNotificationConfiguration.
type notificationConfiguration struct {
	XMLName   xml.Name              `xml:"NotificationConfiguration"`
	Xmlns     string                `xml:"xmlns,attr,omitempty"`
	Topics    []destConfig          `xml:"TopicConfiguration"`
	Queues    []destConfig          `xml:"QueueConfiguration"`
	Functions []destConfig          `xml:"CloudFunctionConfiguration"`
	EventBus  *struct{}             `xml:"EventBridgeConfiguration"`
	Unknown   []unknownNotification `xml:",any"`
}

// destConfig is one destination's configuration: a function's
// (CloudFunction), a topic's (Topic) or a queue's (Queue).
type destConfig struct {
	ID       string   `xml:"Id,omitempty"`
	Function string   `xml:"CloudFunction,omitempty"`
	Topic    string   `xml:"Topic,omitempty"`
	Queue    string   `xml:"Queue,omitempty"`
	Events   []string `xml:"Event"`
	Filter   *filter  `xml:"Filter,omitempty"`
}

type filter struct {
	Rules []filterRule `xml:"S3Key>FilterRule"`
}

type filterRule struct {
	Name  string
	Value string
}

type unknownNotification struct {
	XMLName xml.Name
}

func invalidArgument(msg string) *Error { return s3err("InvalidArgument", msg) }

// destinationKind is one kind of notification destination: its XML
// element, the ARN of its configurations, and what its maker must be
// allowed, since the bucket acts for them.
type destinationKind struct {
	element, action string
	arn             func(destConfig) string
	set             func(*objstore.Notification, string)
}

var destinationKinds = []destinationKind{
	{"CloudFunctionConfiguration", "lambda:InvokeFunction", func(d destConfig) string { return d.Function }, func(n *objstore.Notification, a string) { n.FunctionARN = a }},
	{"TopicConfiguration", "sns:Publish", func(d destConfig) string { return d.Topic }, func(n *objstore.Notification, a string) { n.TopicARN = a }},
	{"QueueConfiguration", "sqs:SendMessage", func(d destConfig) string { return d.Queue }, func(n *objstore.Notification, a string) { n.QueueARN = a }},
}

// putNotification validates and stores a bucket's notification
// configuration: function, topic and queue destinations that exist, and
// that whoever configures them may invoke, publish to or send to.
func (h *Handler) putNotification(w http.ResponseWriter, r *http.Request, rq *request) error {
	body, err := h.readSmall(r, rq, 1<<20)
	if err != nil {
		return err
	}
	var doc notificationConfiguration
	if err := decodeXML(body, &doc); err != nil {
		return err
	}
	if len(doc.Unknown) > 0 {
		return s3err("MalformedXML", "")
	}
	if doc.EventBus != nil {
		return invalidArgument("Unable to validate the following destination configurations: EventBridge destinations are not available here")
	}
	if _, err := h.d.Store.Bucket(r.Context(), rq.bucket); err != nil {
		return err
	}
	var cfg objstore.NotificationConfig
	ids := map[string]bool{}
	lists := [][]destConfig{doc.Functions, doc.Topics, doc.Queues}
	outs := []*[]objstore.Notification{&cfg.Functions, &cfg.Topics, &cfg.Queues}
	for k, kind := range destinationKinds {
		for _, d := range lists[k] {
			n, err := h.notification(r, kind, d)
			if err != nil {
				return err
			}
			if ids[n.ID] {
				return invalidArgument("Configuration IDs must be unique: " + n.ID)
			}
			// The bucket acts for whoever configured it: they must be
			// allowed to themselves.
			if err := h.authorize(r, rq.signer, kind.action, kind.arn(d), nil, ""); err != nil {
				return err
			}
			ids[n.ID] = true
			*outs[k] = append(*outs[k], n)
		}
	}
	if err := h.d.Store.PutNotification(r.Context(), rq.bucket, cfg); err != nil {
		return err
	}
	if h.d.OnConfigured != nil {
		if err := h.d.OnConfigured(r.Context(), rq.bucket, cfg, rq.id); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// notification checks one destination's configuration.
func (h *Handler) notification(r *http.Request, kind destinationKind, d destConfig) (objstore.Notification, error) {
	arn := strings.TrimSpace(kind.arn(d))
	n := objstore.Notification{ID: d.ID}
	kind.set(&n, arn)
	if n.ID == "" {
		n.ID = requestID()
	}
	if arn == "" {
		return n, invalidArgument("A " + kind.element + " must name its destination")
	}
	if len(d.Events) == 0 {
		return n, invalidArgument("A " + kind.element + " must name at least one Event")
	}
	for _, e := range d.Events {
		e = strings.TrimSpace(e)
		if !slices.Contains(notificationEvents, e) {
			return n, invalidArgument("The event is not supported for notifications: " + e)
		}
		if !slices.Contains(n.Events, e) {
			n.Events = append(n.Events, e)
		}
	}
	if d.Filter != nil {
		for _, rule := range d.Filter.Rules {
			switch strings.ToLower(rule.Name) {
			case "prefix":
				if n.Prefix != "" {
					return n, invalidArgument("Cannot specify more than one prefix rule in a filter.")
				}
				n.Prefix = rule.Value
			case "suffix":
				if n.Suffix != "" {
					return n, invalidArgument("Cannot specify more than one suffix rule in a filter.")
				}
				n.Suffix = rule.Value
			default:
				return n, invalidArgument("filter rule name must be either prefix or suffix")
			}
		}
	}
	exists := h.d.FunctionExists
	if kind.element != "CloudFunctionConfiguration" {
		exists = h.d.DestinationExists
	}
	if exists != nil && !exists(r.Context(), arn) {
		return n, invalidArgument("Unable to validate the following destination configurations: " + arn + " (it does not exist)")
	}
	return n, nil
}

func (h *Handler) getNotification(w http.ResponseWriter, r *http.Request, rq *request) error {
	cfg, err := h.d.Store.Notification(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	doc := notificationConfiguration{Xmlns: xmlns}
	outs := []*[]destConfig{&doc.Functions, &doc.Topics, &doc.Queues}
	for k, list := range [][]objstore.Notification{cfg.Functions, cfg.Topics, cfg.Queues} {
		for _, n := range list {
			d := destConfig{ID: n.ID, Function: n.FunctionARN, Topic: n.TopicARN, Queue: n.QueueARN, Events: n.Events}
			if n.Prefix != "" || n.Suffix != "" {
				d.Filter = &filter{}
				if n.Prefix != "" {
					d.Filter.Rules = append(d.Filter.Rules, filterRule{Name: "Prefix", Value: n.Prefix})
				}
				if n.Suffix != "" {
					d.Filter.Rules = append(d.Filter.Rules, filterRule{Name: "Suffix", Value: n.Suffix})
				}
			}
			*outs[k] = append(*outs[k], d)
		}
	}
	writeXML(w, http.StatusOK, doc)
	return nil
}
