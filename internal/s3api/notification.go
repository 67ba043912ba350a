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
}

// notificationConfiguration is the XML of Put/GetBucketNotificationConfiguration.
type notificationConfiguration struct {
	XMLName   xml.Name              `xml:"NotificationConfiguration"`
	Xmlns     string                `xml:"xmlns,attr,omitempty"`
	Functions []functionConfig      `xml:"CloudFunctionConfiguration"`
	Topics    []otherDestination    `xml:"TopicConfiguration"`
	Queues    []otherDestination    `xml:"QueueConfiguration"`
	EventBus  *struct{}             `xml:"EventBridgeConfiguration"`
	Unknown   []unknownNotification `xml:",any"`
}

type functionConfig struct {
	ID       string   `xml:"Id,omitempty"`
	Function string   `xml:"CloudFunction"`
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

type otherDestination struct {
	ID    string `xml:"Id"`
	Topic string `xml:"Topic"`
	Queue string `xml:"Queue"`
}

type unknownNotification struct {
	XMLName xml.Name
}

func invalidArgument(msg string) *Error { return s3err("InvalidArgument", msg) }

// putNotification validates and stores a bucket's notification
// configuration. Only function destinations are accepted, and only for
// functions that exist.
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
	if len(doc.Topics) > 0 || len(doc.Queues) > 0 || doc.EventBus != nil {
		return invalidArgument("Unable to validate the following destination configurations: only function (CloudFunctionConfiguration) destinations are supported")
	}
	if _, err := h.d.Store.Bucket(r.Context(), rq.bucket); err != nil {
		return err
	}
	var cfg objstore.NotificationConfig
	ids := map[string]bool{}
	for _, f := range doc.Functions {
		n, err := h.functionNotification(r, f)
		if err != nil {
			return err
		}
		if ids[n.ID] {
			return invalidArgument("Configuration IDs must be unique: " + n.ID)
		}
		// The bucket invokes the function for whoever configured it: they
		// must be allowed to themselves.
		if err := h.authorize(r, rq.signer, "lambda:InvokeFunction", n.FunctionARN, nil, ""); err != nil {
			return err
		}
		ids[n.ID] = true
		cfg.Functions = append(cfg.Functions, n)
	}
	if err := h.d.Store.PutNotification(r.Context(), rq.bucket, cfg); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// functionNotification checks one CloudFunctionConfiguration.
func (h *Handler) functionNotification(r *http.Request, f functionConfig) (objstore.FunctionNotification, error) {
	n := objstore.FunctionNotification{ID: f.ID, FunctionARN: strings.TrimSpace(f.Function)}
	if n.ID == "" {
		n.ID = requestID()
	}
	if n.FunctionARN == "" {
		return n, invalidArgument("A CloudFunctionConfiguration must name a CloudFunction")
	}
	if len(f.Events) == 0 {
		return n, invalidArgument("A CloudFunctionConfiguration must name at least one Event")
	}
	for _, e := range f.Events {
		e = strings.TrimSpace(e)
		if !slices.Contains(notificationEvents, e) {
			return n, invalidArgument("The event is not supported for notifications: " + e)
		}
		if !slices.Contains(n.Events, e) {
			n.Events = append(n.Events, e)
		}
	}
	if f.Filter != nil {
		for _, rule := range f.Filter.Rules {
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
	if h.d.FunctionExists != nil && !h.d.FunctionExists(r.Context(), n.FunctionARN) {
		return n, invalidArgument("Unable to validate the following destination configurations: " + n.FunctionARN + " (no such function)")
	}
	return n, nil
}

func (h *Handler) getNotification(w http.ResponseWriter, r *http.Request, rq *request) error {
	cfg, err := h.d.Store.Notification(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	doc := notificationConfiguration{Xmlns: xmlns}
	for _, n := range cfg.Functions {
		f := functionConfig{ID: n.ID, Function: n.FunctionARN, Events: n.Events}
		if n.Prefix != "" || n.Suffix != "" {
			f.Filter = &filter{}
			if n.Prefix != "" {
				f.Filter.Rules = append(f.Filter.Rules, filterRule{Name: "Prefix", Value: n.Prefix})
			}
			if n.Suffix != "" {
				f.Filter.Rules = append(f.Filter.Rules, filterRule{Name: "Suffix", Value: n.Suffix})
			}
		}
		doc.Functions = append(doc.Functions, f)
	}
	writeXML(w, http.StatusOK, doc)
	return nil
}
