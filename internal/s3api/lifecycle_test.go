package s3api

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
)

func parseLifecycleXML(body string) (*objstore.LifecycleConfig, error) {
	var doc lifecycleConfiguration
	if err := decodeXML([]byte(body), &doc); err != nil {
		return nil, err
	}
	return parseLifecycle(&doc)
}

func TestParseLifecycleRefusals(t *testing.T) {
	rule := func(inner string) string {
		return `<LifecycleConfiguration><Rule>` + inner + `</Rule></LifecycleConfiguration>`
	}
	many := `<LifecycleConfiguration>` + strings.Repeat(`<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, 1001) + `</LifecycleConfiguration>`
	tests := []struct {
		name, body, code, msg string
	}{
		{"not XML", `<LifecycleConfiguration><Rule>`, "MalformedXML", ""},
		{"no rules", `<LifecycleConfiguration></LifecycleConfiguration>`, "MalformedXML", ""},
		{"too many rules", many, "InvalidArgument", "1000"},
		{"bad status", rule(`<Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration>`), "MalformedXML", ""},
		{"no filter", rule(`<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`), "MalformedXML", ""},
		{"filter and prefix", rule(`<Prefix>a</Prefix><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`), "MalformedXML", ""},
		{"two conditions without And", rule(`<Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`), "MalformedXML", ""},
		{"unknown element", rule(`<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration><Bogus/>`), "MalformedXML", ""},
		{"days 0", rule(`<Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>`), "InvalidArgument", "'Days' for Expiration action must be a positive integer"},
		{"days and date", rule(`<Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>`), "MalformedXML", ""},
		{"date not midnight", rule(`<Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>`), "InvalidArgument", "'Date' must be at midnight GMT"},
		{"no action", rule(`<Filter/><Status>Enabled</Status>`), "InvalidRequest", "At least one action"},
		{"transition", rule(`<Filter/><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>`), "NotImplemented", ""},
		{"noncurrent transition", rule(`<Filter/><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>30</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>`), "NotImplemented", ""},
		{"abort days 0", rule(`<Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>`), "InvalidArgument", "DaysAfterInitiation"},
		{"abort with tags", rule(`<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`), "InvalidRequest", "Tags"},
		{"delete marker with tags", rule(`<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`), "InvalidRequest", "tags"},
		{"noncurrent days 0", rule(`<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>`), "InvalidArgument", "NoncurrentDays"},
		{"sizes crossed", rule(`<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`), "InvalidArgument", "ObjectSizeGreaterThan"},
		{"duplicate tag keys", rule(`<Filter><And><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`), "InvalidTag", ""},
		{"long ID", rule(`<ID>` + strings.Repeat("i", 256) + `</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`), "InvalidArgument", "255"},
		{"duplicate IDs", `<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>` +
			`<Rule><ID>x</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule></LifecycleConfiguration>`,
			"InvalidArgument", "Rule ID must be unique"},
	}
	for _, tt := range tests {
		_, err := parseLifecycleXML(tt.body)
		e, ok := err.(*Error)
		if !ok || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
			t.Errorf("%s: %v, want %s containing %q", tt.name, err, tt.code, tt.msg)
		}
	}
}

// A configuration reads back as it was put, overlapping filters and all
// (S3 takes overlapping rules and applies the earliest expiration).
func TestLifecycleRoundTrip(t *testing.T) {
	body := `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		`<Rule><ID>all</ID><Filter></Filter><Status>Enabled</Status><Expiration><Days>365</Days></Expiration></Rule>` +
		`<Rule><ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>` +
		`<Rule><ID>and</ID><Filter><And><Prefix>tmp/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>` +
		`<Rule><ID>legacy</ID><Prefix>old/</Prefix><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload><NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>` +
		`<Rule><Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>` +
		`</LifecycleConfiguration>`
	cfg, err := parseLifecycleXML(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 5 || cfg.Rules[4].ID == "" || cfg.Rules[3].Filter.Form != "legacy" || cfg.Rules[3].AbortDays != 7 ||
		!cfg.Rules[1].Expiration.Date.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) || cfg.Rules[1].Enabled {
		t.Fatalf("parsed: %+v", cfg)
	}
	out, err := xml.Marshal(lifecycleDocument(cfg))
	if err != nil {
		t.Fatal(err)
	}
	again, err := parseLifecycleXML(string(out))
	if err != nil {
		t.Fatalf("reading back %s: %v", out, err)
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Fatalf("read back as\n%+v\nwant\n%+v", again, cfg)
	}
	for _, part := range []string{`<Filter></Filter>`, `<Date>2030-01-01T00:00:00.000Z</Date>`, `<Prefix>old/</Prefix><Status>`,
		`<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter>`, `<NewerNoncurrentVersions>2</NewerNoncurrentVersions>`} {
		if !strings.Contains(string(out), part) {
			t.Errorf("read back without %s: %s", part, out)
		}
	}
}
