package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
	"github.com/spf13/cobra"
)

// outputFormat is the value of --output.
type outputFormat string

const (
	outputTable outputFormat = "table"
	outputJSON  outputFormat = "json"
)

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "table|json" }
func (o *outputFormat) Set(s string) error {
	switch f := outputFormat(strings.ToLower(s)); f {
	case outputTable, outputJSON:
		*o = f
		return nil
	}
	return fmt.Errorf("use table or json")
}

// addOutputFlag registers --output on cmd.
func addOutputFlag(cmd *cobra.Command) *outputFormat {
	o := outputTable
	cmd.Flags().VarP(&o, "output", "o", "output format: table, or json (the API objects, for scripts)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return &o
}

// writeJSON prints v as indented JSON in the shape the API uses: members in
// the order of the SDK's types, and unset members (nil pointers, empty
// enumerations) left out.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	if err := encodeAPI(&buf, reflect.ValueOf(v)); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := out.WriteTo(w)
	return err
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	plainString   = reflect.TypeFor[string]()
)

// unset reports whether v is absent in the API's sense.
func unset(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Invalid:
		return true
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return v.IsNil()
	case reflect.String:
		return v.Type() != plainString && v.Len() == 0 // an enumeration with no value
	}
	return false
}

// encodeAPI writes v as compact JSON.
func encodeAPI(buf *bytes.Buffer, v reflect.Value) error {
	if unset(v) && v.Kind() != reflect.String {
		buf.WriteString("null")
		return nil
	}
	if v.Type().Implements(jsonMarshaler) {
		return encodeLeaf(buf, v)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return encodeAPI(buf, v.Elem())
	case reflect.Struct:
		buf.WriteByte('{')
		first := true
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			fv := v.Field(i)
			if !sf.IsExported() || sf.Name == "ResultMetadata" || unset(fv) {
				continue
			}
			if sf.Anonymous && fv.Kind() == reflect.Struct {
				// An embedded struct's members belong to the outer object.
				var inner bytes.Buffer
				if err := encodeAPI(&inner, fv); err != nil {
					return err
				}
				if members := bytes.TrimSuffix(bytes.TrimPrefix(inner.Bytes(), []byte("{")), []byte("}")); len(members) > 0 {
					if !first {
						buf.WriteByte(',')
					}
					buf.Write(members)
					first = false
				}
				continue
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			name := sf.Name
			if tag, _, _ := strings.Cut(sf.Tag.Get("json"), ","); tag != "" && tag != "-" {
				name = tag
			}
			if err := encodeLeaf(buf, reflect.ValueOf(name)); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeAPI(buf, fv); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeLeaf(buf, reflect.ValueOf(fmt.Sprint(k))); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeAPI(buf, v.MapIndex(k)); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return encodeLeaf(buf, v) // bytes are base64, as in the API
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeAPI(buf, v.Index(i)); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	return encodeLeaf(buf, v)
}

// encodeLeaf writes v with encoding/json.
func encodeLeaf(buf *bytes.Buffer, v reflect.Value) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v.Interface()); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode ends with a newline
	return nil
}

// plainStyle draws tables the way command-line tools usually do: aligned
// columns, no borders, a rule above the footer.
var plainStyle = func() table.Style {
	s := table.StyleDefault
	s.Name = "aloft"
	s.Box.PaddingLeft = ""
	s.Box.PaddingRight = "   "
	s.Options = table.Options{SeparateFooter: true}
	return s
}()

// newTable returns a table of cols columns that renders to w; right lists
// the (1-based) columns to align right, such as numbers.
func newTable(w io.Writer, cols int, right ...int) table.Writer {
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(plainStyle)
	t.SuppressTrailingSpaces()
	cfgs := make([]table.ColumnConfig, cols)
	for i := range cfgs {
		align := text.AlignLeft
		if slices.Contains(right, i+1) {
			align = text.AlignRight
		}
		cfgs[i] = table.ColumnConfig{Number: i + 1, Align: align, AlignHeader: align, AlignFooter: align}
	}
	t.SetColumnConfigs(cfgs)
	return t
}

// field is one line of a details table.
type field struct{ name, value string }

// writeDetails prints name/value pairs as two aligned columns, skipping
// empty values.
func writeDetails(w io.Writer, fields []field) {
	t := newTable(w, 2)
	for _, f := range fields {
		if f.value != "" {
			t.AppendRow(table.Row{f.name, f.value})
		}
	}
	t.Render()
}

// lambdaTimeLayout is how Lambda writes LastModified.
const lambdaTimeLayout = "2006-01-02T15:04:05.000-0700"

// formatLambdaTime renders a Lambda timestamp in UTC, RFC 3339; text it
// cannot parse is returned as is.
func formatLambdaTime(s string) string {
	for _, layout := range []string{lambdaTimeLayout, time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return s
}

// groupDigits writes n with thousands separators.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// trimFloat formats v with at most maxDec decimals, dropping trailing zeros
// but keeping at least minDec.
func trimFloat(v float64, maxDec, minDec int) string {
	s := strconv.FormatFloat(v, 'f', maxDec, 64)
	if maxDec == 0 {
		return s
	}
	whole, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	for len(frac) < minDec {
		frac += "0"
	}
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// tableRow builds a table row.
func tableRow(cells ...any) table.Row { return table.Row(cells) }
