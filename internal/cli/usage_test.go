package cli

import (
	"net/http"
	"testing"
)

func TestUsage(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /aloft/v1/usage": reply(200, `{"Functions":[
			{"FunctionName":"hello","Requests":12,"BilledMs":340,"GBSeconds":0.0425,"RequestCost":0.0000024,"ComputeCost":0.00000070834,"Cost":0.0000031},
			{"FunctionName":"worker","Requests":1234567,"BilledMs":98765432,"GBSeconds":98765.432,"RequestCost":0.2469134,"ComputeCost":1.6460938,"Cost":1.8930072}],
			"Total":{"Requests":1234579,"BilledMs":98765772,"GBSeconds":98765.4745,"RequestCost":0.2469158,"ComputeCost":1.64609451,"Cost":1.89301031},
			"FreeTier":{"Requests":1000000,"GBSeconds":400000}}`),
	})
	golden(t, "usage.golden", f.run("usage").ok(t).stdout)
	golden(t, "usage.json.golden", f.run("usage", "-o", "json").ok(t).stdout)
}

func TestUsageEmpty(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /aloft/v1/usage": reply(200, `{"Functions":[],"Total":{},"FreeTier":{"Requests":1000000,"GBSeconds":400000}}`),
	})
	golden(t, "usage-empty.golden", f.run("usage").ok(t).stdout)
}
