package function

import "testing"

func TestParseLayerVersionARN(t *testing.T) {
	region, name, v, ok := ParseLayerVersionARN("arn:aws:lambda:eu-west-1:000000000000:layer:my-deps_2:17")
	if !ok || region != "eu-west-1" || name != "my-deps_2" || v != 17 {
		t.Errorf("got %q %q %d %v", region, name, v, ok)
	}
	for _, bad := range []string{
		"arn:aws:lambda:eu-west-1:000000000000:layer:deps",
		"arn:aws:lambda:eu-west-1:000000000000:layer:deps:0",
		"arn:aws:lambda:eu-west-1:000000000000:layer:deps:x",
		"arn:aws:lambda:eu-west-1:000000000000:function:deps:1",
		"arn:aws:lambda:eu-west-1:0000:layer:deps:1",
		"arn:aws:lambda:eu-west-1:000000000000:layer:de/ps:1",
	} {
		if _, _, _, ok := ParseLayerVersionARN(bad); ok {
			t.Errorf("%s accepted", bad)
		}
	}
	if got := LayerARN("us-east-1", "deps", 3); got != "arn:aws:lambda:us-east-1:"+AccountID+":layer:deps:3" {
		t.Errorf("LayerARN: %s", got)
	}
	if _, name, ok := ParseLayerARN("deps"); !ok || name != "deps" {
		t.Error("bare name refused")
	}
	if _, _, ok := ParseLayerARN("arn:aws:lambda:us-east-1:000000000000:layer:deps:3"); ok {
		t.Error("a version ARN is not a layer ARN")
	}
}
