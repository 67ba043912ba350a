package function

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/fault"
)

func TestValidateTags(t *testing.T) {
	many := map[string]string{}
	for i := 0; i <= MaxTags; i++ {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for _, tc := range []struct {
		tags map[string]string
		ok   bool
	}{
		{nil, true},
		{map[string]string{"team": "web", "": "x"}, false},
		{map[string]string{strings.Repeat("é", 128): strings.Repeat("v", 256)}, true},
		{map[string]string{strings.Repeat("k", 129): "v"}, false},
		{map[string]string{"k": strings.Repeat("v", 257)}, false},
		{map[string]string{"AWS:owner": "me"}, false},
		{map[string]string{NetworkTag: NetworkNone}, true},
		{map[string]string{NetworkTag: NetworkDefault}, true},
		{map[string]string{NetworkTag: "host"}, false},
		{map[string]string{AllowNetTag: "10.0.0.0/8  192.168.1.7 169.254.169.254/32"}, true},
		{map[string]string{AllowNetTag: "10.0.0.0/8,192.168.0.0/16"}, false},
		{map[string]string{AllowNetTag: "fd00::/8"}, false},
		{map[string]string{AllowNetTag: strings.Repeat("10.0.0.1 ", 17)}, false},
		{map[string]string{AllowNetTag: "10.0.0.0/8", NetworkTag: NetworkNone}, false},
		{many, false},
	} {
		err := ValidateTags(tc.tags)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateTags(%d tags, first keys %.40v): %v, want ok=%v", len(tc.tags), tc.tags, err, tc.ok)
		}
		if err != nil && fault.KindOf(err) != fault.Invalid {
			t.Errorf("error %v has kind %v", err, fault.KindOf(err))
		}
	}
	if NetworkOf(map[string]string{NetworkTag: NetworkNone}) != NetworkNone || NetworkOf(nil) != "" {
		t.Error("NetworkOf")
	}
	if got := AllowNetOf(map[string]string{AllowNetTag: "10.1.2.3/8 192.168.1.7"}); fmt.Sprint(got) != "[10.0.0.0/8 192.168.1.7/32]" {
		t.Errorf("AllowNetOf: %v", got)
	}
}
