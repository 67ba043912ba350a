package sqsapi

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
)

// op adds operation name to both protocols: fn serves the JSON shapes;
// a query request's parameters are rearranged into them, and toXML
// gives the content of the query answer's <NameResult> (nil: none).
func op[In, Out any](s *Server, name string, fn func(context.Context, *In) (*Out, error), toXML func(*Out) any) {
	awsproto.Handle(s.json, name, fn)
	s.query.HandleQuery(name, func(ctx context.Context, p url.Values) (any, error) {
		in := new(In)
		if err := fromForm(p, in); err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		if toXML == nil {
			return nil, nil
		}
		return toXML(out), nil
	})
}

// Query parameters that are numbers in the JSON shapes.
var numeric = map[string]bool{"DelaySeconds": true, "MaxNumberOfMessages": true, "VisibilityTimeout": true, "WaitTimeSeconds": true, "MaxResults": true}

// fromForm decodes query parameters into the JSON shape in: a flattened
// list (Name.1, Name.2, ...) becomes the shape's list or map, as the
// query protocol flattens each:
//
//	Attribute.N.Name/Value             Attributes {Name: Value}
//	Tag.N.Key/Value                    Tags, and CreateQueue's tags
//	MessageAttribute.N.Name/Value.*    MessageAttributes {Name: {...}}
//	MessageSystemAttribute.N.Name/...  MessageSystemAttributes
//	AttributeName.N, TagKey.N, ...     AttributeNames, TagKeys, ...
//	<Operation>RequestEntry.N.*        Entries [{...}]
func fromForm(p url.Values, in any) error {
	tree := map[string]any{}
	for key, vs := range p {
		if key == "Action" || key == "Version" || len(vs) == 0 {
			continue
		}
		if err := insert(tree, strings.Split(key, "."), vs[0]); err != nil {
			return invalidParam("The parameter %s is not valid: %v", key, err)
		}
	}
	doc, err := shape(tree, "")
	if err != nil {
		return err
	}
	b, _ := json.Marshal(doc)
	if err := json.Unmarshal(b, in); err != nil {
		return invalidParam("The request's parameters are not valid: %v", err)
	}
	return nil
}

// insert puts value at path in tree; numbered segments are kept as
// "#N" keys until shape orders them.
func insert(tree map[string]any, path []string, value string) error {
	node := tree
	for i, seg := range path {
		if seg == "" {
			return fmt.Errorf("empty name segment")
		}
		if n, err := strconv.Atoi(seg); err == nil {
			if n < 1 {
				return fmt.Errorf("list positions start at 1")
			}
			seg = "#" + seg
		}
		if i == len(path)-1 {
			if _, ok := node[seg].(map[string]any); ok {
				return fmt.Errorf("given both as a value and as a list")
			}
			node[seg] = value
			return nil
		}
		next, ok := node[seg].(map[string]any)
		if !ok {
			if _, isValue := node[seg]; isValue {
				return fmt.Errorf("given both as a value and as a list")
			}
			next = map[string]any{}
			node[seg] = next
		}
		node = next
	}
	return nil
}

// shape turns a parsed parameter tree into the JSON document of the
// shapes.
func shape(tree map[string]any, parent string) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range tree {
		sub, isTree := v.(map[string]any)
		if !isTree {
			if numeric[k] {
				n, err := strconv.Atoi(v.(string))
				if err != nil {
					return nil, invalidParam("Value %s for parameter %s is invalid. Reason: it must be an integer.", v, k)
				}
				out[k] = n
				continue
			}
			out[k] = v
			continue
		}
		items, isList := ordered(sub)
		if !isList {
			inner, err := shape(sub, k)
			if err != nil {
				return nil, err
			}
			out[k] = inner
			continue
		}
		switch {
		case k == "Attribute" || k == "Tag" || k == "MessageAttribute" || k == "MessageSystemAttribute":
			keyName, valueName := "Name", "Value"
			if k == "Tag" {
				keyName = "Key"
			}
			m := map[string]any{}
			for _, it := range items {
				entry, ok := it.(map[string]any)
				if !ok {
					return nil, invalidParam("Each %s needs a %s and a %s.", k, keyName, valueName)
				}
				name, _ := entry[keyName].(string)
				val := entry[valueName]
				if inner, ok := val.(map[string]any); ok {
					v, err := shape(inner, k)
					if err != nil {
						return nil, err
					}
					val = v
				}
				if name == "" || val == nil {
					return nil, invalidParam("Each %s needs a %s and a %s.", k, keyName, valueName)
				}
				m[name] = val
			}
			name := k + "s"
			if k == "Tag" && parent == "" {
				name = "Tags"
			}
			out[name] = m
		case strings.HasSuffix(k, "RequestEntry"):
			var list []any
			for _, it := range items {
				entry, ok := it.(map[string]any)
				if !ok {
					return nil, invalidParam("Each %s needs its fields.", k)
				}
				v, err := shape(entry, k)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			out["Entries"] = list
		default:
			// AttributeName, MessageAttributeName, TagKey, ...
			out[k+"s"] = items
		}
	}
	// CreateQueue calls its tags "tags".
	if t, ok := out["Tags"]; ok && parent == "" {
		out["tags"] = t
	}
	return out, nil
}

// ordered returns the items of a numbered list in order, with ok false
// for a tree that is not one. Positions must run 1, 2, ... as the query
// protocol numbers them.
func ordered(tree map[string]any) ([]any, bool) {
	var ns []int
	for k := range tree {
		if !strings.HasPrefix(k, "#") {
			return nil, false
		}
		n, _ := strconv.Atoi(k[1:])
		ns = append(ns, n)
	}
	slices.Sort(ns)
	out := make([]any, 0, len(ns))
	for _, n := range ns {
		out = append(out, tree["#"+strconv.Itoa(n)])
	}
	return out, len(ns) > 0
}

// The query protocol's answers.

type attributeXML struct {
	Name  string `xml:"Name"`
	Value string `xml:"Value"`
}

type attributesXMLOut struct {
	Attributes []attributeXML `xml:"Attribute"`
}

func attributesXML(m map[string]string) *attributesXMLOut {
	out := &attributesXMLOut{}
	for _, k := range sortedKeys(m) {
		out.Attributes = append(out.Attributes, attributeXML{k, m[k]})
	}
	return out
}

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func tagsXML(m map[string]string) any {
	out := &struct {
		Tags []tagXML `xml:"Tag"`
	}{}
	for _, k := range sortedKeys(m) {
		out.Tags = append(out.Tags, tagXML{k, m[k]})
	}
	return out
}

func listQueuesXML(o *listQueuesOut) any {
	return &struct {
		QueueUrls []string `xml:"QueueUrl"`
		NextToken string   `xml:"NextToken,omitempty"`
	}{o.QueueUrls, o.NextToken}
}

func sendBatchXML(o *sendBatchOut) any {
	return &struct {
		Successful []sendResult `xml:"SendMessageBatchResultEntry"`
		Failed     []failure    `xml:"BatchResultErrorEntry"`
	}{o.Successful, o.Failed}
}

func batchXML(entry string, o *batchOut) any {
	type ok struct {
		XMLName xml.Name
		ID      string `xml:"Id"`
	}
	out := &struct {
		Successful []ok      `xml:",any"`
		Failed     []failure `xml:"BatchResultErrorEntry"`
	}{Failed: o.Failed}
	for _, s := range o.Successful {
		out.Successful = append(out.Successful, ok{xml.Name{Local: entry}, s.ID})
	}
	return out
}

type valueXML struct {
	StringValue string `xml:"StringValue,omitempty"`
	BinaryValue []byte `xml:"BinaryValue,omitempty"`
	DataType    string `xml:"DataType"`
}

type messageAttributeXML struct {
	Name  string   `xml:"Name"`
	Value valueXML `xml:"Value"`
}

type messageXML struct {
	MessageID              string                `xml:"MessageId"`
	ReceiptHandle          string                `xml:"ReceiptHandle"`
	MD5OfBody              string                `xml:"MD5OfBody"`
	Body                   string                `xml:"Body"`
	Attributes             []attributeXML        `xml:"Attribute"`
	MD5OfMessageAttributes string                `xml:"MD5OfMessageAttributes,omitempty"`
	MessageAttributes      []messageAttributeXML `xml:"MessageAttribute"`
}

func receiveXML(o *receiveOut) any {
	out := &struct {
		Messages []messageXML `xml:"Message"`
	}{}
	for _, m := range o.Messages {
		x := messageXML{MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle, MD5OfBody: m.MD5OfBody, Body: m.Body, MD5OfMessageAttributes: m.MD5OfMessageAttributes}
		x.Attributes = attributesXML(m.Attributes).Attributes
		for _, k := range sortedKeys(m.MessageAttributes) {
			a := m.MessageAttributes[k]
			x.MessageAttributes = append(x.MessageAttributes, messageAttributeXML{k, valueXML{a.StringValue, a.BinaryValue, a.DataType}})
		}
		out.Messages = append(out.Messages, x)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func itoa(n int) string { return strconv.Itoa(n) }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func jsonUnmarshal(b []byte, v any) { _ = json.Unmarshal(b, v) }
