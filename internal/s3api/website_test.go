package s3api

import (
	"encoding/xml"
	"testing"
)

func TestParseWebsite(t *testing.T) {
	const index = `<IndexDocument><Suffix>index.html</Suffix></IndexDocument>`
	wrap := func(s string) string {
		return `<WebsiteConfiguration xmlns="` + xmlns + `">` + s + `</WebsiteConfiguration>`
	}
	rule := func(s string) string { return `<RoutingRules><RoutingRule>` + s + `</RoutingRule></RoutingRules>` }
	cases := []struct{ doc, code, msg string }{
		{wrap(``), "InvalidArgument", websiteNoIndex},
		{wrap(`<ErrorDocument><Key>e.html</Key></ErrorDocument>`), "InvalidArgument", websiteNoIndex},
		{wrap(`<IndexDocument><Suffix>a/b</Suffix></IndexDocument>`), "InvalidArgument", websiteBadIndex},
		{wrap(`<IndexDocument></IndexDocument>`), "InvalidArgument", websiteBadIndex},
		{wrap(`<RedirectAllRequestsTo><HostName>x</HostName></RedirectAllRequestsTo>` + index), "InvalidArgument", websiteRedirectAlone},
		{wrap(`<RedirectAllRequestsTo><Protocol>http</Protocol></RedirectAllRequestsTo>`), "MalformedXML", ""},
		{wrap(`<RedirectAllRequestsTo><HostName>x</HostName><Protocol>ftp</Protocol></RedirectAllRequestsTo>`), "InvalidRequest", websiteBadProtocol},
		{wrap(index + `<ErrorDocument></ErrorDocument>`), "MalformedXML", ""},
		{wrap(index + `<Extra/>`), "MalformedXML", ""},
		{wrap(index + `<RoutingRules></RoutingRules>`), "MalformedXML", ""},
		{wrap(index + rule(`<Condition><KeyPrefixEquals>a</KeyPrefixEquals></Condition>`)), "MalformedXML", ""},
		{wrap(index + rule(`<Redirect></Redirect>`)), "MalformedXML", ""},
		{wrap(index + rule(`<Condition></Condition><Redirect><HostName>x</HostName></Redirect>`)), "InvalidRequest", websiteEmptyCond},
		{wrap(index + rule(`<Redirect><ReplaceKeyWith>a</ReplaceKeyWith><ReplaceKeyPrefixWith>b</ReplaceKeyPrefixWith></Redirect>`)), "InvalidRequest", websiteBothKeys},
		{wrap(index + rule(`<Redirect><HttpRedirectCode>300</HttpRedirectCode></Redirect>`)), "InvalidRequest", "The provided HTTP redirect code (300) is not valid. Valid codes are 3XX except 300."},
		{wrap(index + rule(`<Redirect><HttpRedirectCode>abc</HttpRedirectCode></Redirect>`)), "InvalidRequest", "The provided HTTP redirect code (abc) is not valid. Valid codes are 3XX except 300."},
		{wrap(index + rule(`<Condition><HttpErrorCodeReturnedEquals>600</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>x</HostName></Redirect>`)), "InvalidRequest", "The provided HTTP error code (600) is not valid. Valid codes are 4XX or 5XX."},
		{wrap(index + rule(`<Redirect><Protocol>gopher</Protocol></Redirect>`)), "InvalidRequest", websiteBadProtocol},
		{`<WebsiteConfiguration>`, "MalformedXML", ""},
	}
	for _, c := range cases {
		_, err := parseWebsite([]byte(c.doc))
		e, ok := err.(*Error)
		if !ok || e.Code != c.code || c.msg != "" && e.Message != c.msg {
			t.Fatalf("%s: got %v, want %s %q", c.doc, err, c.code, c.msg)
		}
	}

	// A full configuration reads back as it was put.
	doc := wrap(index + `<ErrorDocument><Key>404.html</Key></ErrorDocument>` + `<RoutingRules>` +
		`<RoutingRule><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith></ReplaceKeyPrefixWith></Redirect></RoutingRule>` +
		`<RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>` +
		`<Redirect><HostName>example.com</HostName><HttpRedirectCode>307</HttpRedirectCode><Protocol>https</Protocol><ReplaceKeyWith>x.html</ReplaceKeyWith></Redirect></RoutingRule>` +
		`</RoutingRules>`)
	cfg, err := parseWebsite([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Rules[0].Redirect.ReplaceKeyPrefixWith; p == nil || *p != "" {
		t.Fatalf("an empty ReplaceKeyPrefixWith was lost: %v", p)
	}
	b, err := xml.Marshal(websiteDocument(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != doc {
		t.Fatalf("read back as\n%s\nwant\n%s", b, doc)
	}
	all, err := parseWebsite([]byte(wrap(`<RedirectAllRequestsTo><HostName>example.org</HostName></RedirectAllRequestsTo>`)))
	if err != nil || all.RedirectAll == nil || all.RedirectAll.HostName != "example.org" || all.IndexSuffix != "" {
		t.Fatalf("redirect all: %+v, %v", all, err)
	}
}

func TestWebsiteBucket(t *testing.T) {
	s := NewWebsites(New(Deps{Domains: []string{"localhost", "example.net"}}))
	for host, want := range map[string]string{
		"site.s3-website.localhost":                      "site",
		"site.s3-website.localhost:4566":                 "site",
		"Site.S3-Website.LOCALHOST.":                     "site",
		"www.example.com.s3-website-us-east-1.localhost": "www.example.com",
		"site.s3-website.eu-west-2.example.net":          "site",
		"site.localhost":                                 "",
		"s3-website.localhost":                           "",
		".s3-website.localhost":                          "",
		"site.s3-website-.localhost":                     "",
		"site.s3-website.a.b.localhost":                  "",
		"site.s3-website.example.org":                    "",
		"site.s3-websites.localhost":                     "",
	} {
		got, ok := s.Bucket(host)
		if got != want || ok != (want != "") {
			t.Errorf("Bucket(%q) = %q, %v; want %q", host, got, ok, want)
		}
	}
}
