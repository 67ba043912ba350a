package awsproto

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// The query protocol's parameters and answers, mapped onto the structs
// the JSON protocols decode and encode, so that an API that speaks both
// writes each operation once: a member is named by its JSON name (the
// struct field's json tag, else its name), a struct's members follow
// its own name and a dot (Metric.Namespace), a list's items are
// Name.member.N, from 1 (MetricData.member.1.Dimensions.member.2.Value),
// and a map's entries, in answers, Name.entry with key and value.
// A list given as Name= alone is empty. Times are ISO 8601 (or epoch
// seconds) in, ISO 8601 out (Time).

// maxQueryIndex bounds the N of Name.member.N.
const maxQueryIndex = 10000

// DecodeQuery sets the members of the struct v points to from params,
// leaving out Action and Version. A parameter that names no member, or
// whose value does not parse as its member's type, is refused with a
// *QueryParamError, never ignored.
func DecodeQuery(params url.Values, v any) error {
	root := reflect.ValueOf(v).Elem()
	for key, vals := range params {
		if key == "Action" || key == "Version" || len(vals) == 0 {
			continue
		}
		if err := setQuery(root, strings.Split(key, "."), vals[0]); err != nil {
			return &QueryParamError{Param: key, Reason: err.Error()}
		}
	}
	return nil
}

// QueryParamError is a query parameter DecodeQuery refused.
type QueryParamError struct{ Param, Reason string }

func (e *QueryParamError) Error() string {
	return fmt.Sprintf("The parameter %s is not valid: %s.", e.Param, e.Reason)
}

var timeType = reflect.TypeFor[Time]()

// setQuery sets the member of v at path to value.
func setQuery(v reflect.Value, path []string, value string) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.Type() == timeType {
		if len(path) > 0 {
			return fmt.Errorf("a timestamp has no member %s", path[0])
		}
		return v.Addr().Interface().(*Time).parse(value)
	}
	switch v.Kind() {
	case reflect.Struct:
		if len(path) == 0 {
			return fmt.Errorf("it needs members")
		}
		f, ok := fieldByJSONName(v, path[0])
		if !ok {
			return fmt.Errorf("there is no member %s", path[0])
		}
		return setQuery(f, path[1:], value)
	case reflect.Slice:
		if len(path) == 0 {
			if value != "" {
				return fmt.Errorf("a list takes its items as .member.N")
			}
			if v.IsNil() {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return nil
		}
		if path[0] != "member" || len(path) < 2 {
			return fmt.Errorf("a list takes its items as .member.N")
		}
		n, err := strconv.Atoi(path[1])
		if err != nil || n < 1 || n > maxQueryIndex {
			return fmt.Errorf("%q is not an index from 1 to %d", path[1], maxQueryIndex)
		}
		if v.Len() < n {
			grown := reflect.MakeSlice(v.Type(), n, max(n, v.Cap()))
			reflect.Copy(grown, v)
			v.Set(grown)
		}
		return setQuery(v.Index(n-1), path[2:], value)
	}
	if len(path) > 0 {
		return fmt.Errorf("a value has no member %s", path[0])
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%q is not true or false", value)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(value, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", value)
		}
		v.SetInt(n)
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(value, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a number", value)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("a %s cannot be given as a query parameter", v.Type())
	}
	return nil
}

// fieldByJSONName returns the field of struct v that JSON names name.
func fieldByJSONName(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if n, _, ok := jsonName(t.Field(i)); ok && n == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// jsonName returns the name JSON gives field f, whether it has
// omitempty, and whether it is encoded at all.
func jsonName(f reflect.StructField) (name string, omitEmpty, ok bool) {
	if !f.IsExported() {
		return "", false, false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(opts, "omitempty"), true
}

// QueryResult is an operation's output encoded as the query protocol's
// XML, by the rules above: the members in order, lists as member
// elements, nil and omitempty members left out.
type QueryResult struct{ V any }

// MarshalXML writes r.V as the element start.
func (r QueryResult) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return encodeQuery(e, start.Name.Local, reflect.ValueOf(r.V))
}

func encodeQuery(e *xml.Encoder, name string, v reflect.Value) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	start := xml.StartElement{Name: xml.Name{Local: name}}
	text := func(s string) error {
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		if err := e.EncodeToken(xml.CharData(s)); err != nil {
			return err
		}
		return e.EncodeToken(start.End())
	}
	if v.Type() == timeType {
		return text(v.Interface().(Time).UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	switch v.Kind() {
	case reflect.Struct:
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		t := v.Type()
		for i := range t.NumField() {
			n, omit, ok := jsonName(t.Field(i))
			if !ok || (omit && v.Field(i).IsZero()) {
				continue
			}
			if err := encodeQuery(e, n, v.Field(i)); err != nil {
				return err
			}
		}
		return e.EncodeToken(start.End())
	case reflect.Slice:
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		for i := range v.Len() {
			if err := encodeQuery(e, "member", v.Index(i)); err != nil {
				return err
			}
		}
		return e.EncodeToken(start.End())
	case reflect.Map:
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		entry := xml.StartElement{Name: xml.Name{Local: "entry"}}
		for _, k := range keys {
			if err := e.EncodeToken(entry); err != nil {
				return err
			}
			if err := encodeQuery(e, "key", k); err != nil {
				return err
			}
			if err := encodeQuery(e, "value", v.MapIndex(k)); err != nil {
				return err
			}
			if err := e.EncodeToken(entry.End()); err != nil {
				return err
			}
		}
		return e.EncodeToken(start.End())
	case reflect.String:
		return text(v.String())
	case reflect.Bool:
		return text(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int32, reflect.Int64:
		return text(strconv.FormatInt(v.Int(), 10))
	case reflect.Float64, reflect.Float32:
		return text(strconv.FormatFloat(v.Float(), 'f', -1, 64))
	}
	return fmt.Errorf("awsproto: cannot encode a %s in the query protocol", v.Type())
}

// HandleForm adds action to a as an operation written against the JSON
// protocols' structs: the request's parameters are decoded into an In by
// DecodeQuery (a parameter it refuses is InvalidParameterValue, unless
// the API's table words it), and the Out is the action's result, by
// QueryResult; an Out without members leaves the result out.
func HandleForm[In, Out any](a *QueryAPI, action string, fn func(context.Context, *In) (*Out, error)) {
	empty := reflect.TypeFor[Out]().Kind() == reflect.Struct && reflect.TypeFor[Out]().NumField() == 0
	a.HandleQuery(action, func(ctx context.Context, p url.Values) (any, error) {
		in := new(In)
		if err := DecodeQuery(p, in); err != nil {
			if a.Errors != nil {
				if e := a.Errors(err); e != nil {
					return nil, e
				}
			}
			return nil, Errorf(http.StatusBadRequest, "InvalidParameterValue", "%s", err.Error())
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		if empty || out == nil {
			return nil, nil
		}
		return QueryResult{out}, nil
	})
}
