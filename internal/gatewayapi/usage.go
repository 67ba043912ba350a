package gatewayapi

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/throttle"
)

// API keys and usage plans use the shapes and paths of API Gateway's REST
// API management (aws apigateway create-api-key, create-usage-plan,
// create-usage-plan-key), with the same SigV4 service, so that they guard
// HTTP API routes marked apiKeyRequired.

// apiKeyOut is an ApiKey as API Gateway returns it.
type apiKeyOut struct {
	ID              string            `json:"id"`
	Value           string            `json:"value,omitempty"`
	Name            string            `json:"name"`
	Description     string            `json:"description,omitempty"`
	Enabled         bool              `json:"enabled"`
	CustomerID      string            `json:"customerId,omitempty"`
	CreatedDate     time.Time         `json:"createdDate"`
	LastUpdatedDate time.Time         `json:"lastUpdatedDate"`
	StageKeys       []string          `json:"stageKeys"`
	Tags            map[string]string `json:"tags,omitempty"`
}

func keyOut(k *catalog.APIKey, value string) *apiKeyOut {
	return &apiKeyOut{ID: k.ID, Value: value, Name: k.Name, Description: k.Description, Enabled: k.Enabled, CustomerID: k.CustomerID,
		CreatedDate: k.CreatedDate, LastUpdatedDate: k.LastUpdatedDate, StageKeys: []string{}, Tags: k.Tags}
}

func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Enabled     bool              `json:"enabled"`
		Value       string            `json:"value"`
		CustomerID  string            `json:"customerId"`
		Tags        map[string]string `json:"tags"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	k, value, err := h.d.Catalog.CreateAPIKey(r.Context(), &catalog.APIKey{Name: in.Name, Description: in.Description,
		Enabled: in.Enabled, CustomerID: in.CustomerID, Tags: in.Tags}, in.Value)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, keyOut(k, value))
}

func (h *Handler) getAPIKeys(w http.ResponseWriter, r *http.Request) error {
	var all []*apiKeyOut
	for _, k := range h.d.Catalog.APIKeys() {
		all = append(all, keyOut(k, ""))
	}
	return listREST(w, r, all)
}

func (h *Handler) getAPIKey(w http.ResponseWriter, r *http.Request) error {
	k, err := h.d.Catalog.APIKey(r.PathValue("keyId"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keyOut(k, ""))
}

// patchOps is the body of the REST API's Update* operations.
type patchOps struct {
	PatchOperations []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value string `json:"value"`
	} `json:"patchOperations"`
}

func (h *Handler) updateAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in patchOps
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := h.d.Catalog.UpdateAPIKey(r.Context(), r.PathValue("keyId"), func(k *catalog.APIKey) error {
		for _, op := range in.PatchOperations {
			if op.Op != "replace" {
				return badRequest("Only replace operations are supported on API keys")
			}
			switch op.Path {
			case "/enabled":
				k.Enabled = op.Value == "true"
			case "/name":
				k.Name = op.Value
			case "/description":
				k.Description = op.Value
			case "/customerId":
				k.CustomerID = op.Value
			default:
				return badRequest("Invalid patch path " + op.Path)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keyOut(k, ""))
}

func (h *Handler) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	if err := h.d.Catalog.DeleteAPIKey(r.Context(), r.PathValue("keyId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// planOut is a UsagePlan as API Gateway returns it.
type planOut struct {
	ID          string                    `json:"id"`
	Name        string                    `json:"name"`
	Description string                    `json:"description,omitempty"`
	APIStages   []catalog.APIStage        `json:"apiStages"`
	Throttle    *catalog.ThrottleSettings `json:"throttle,omitempty"`
	Quota       *catalog.QuotaSettings    `json:"quota,omitempty"`
	Tags        map[string]string         `json:"tags,omitempty"`
}

func outPlan(p *catalog.UsagePlan) *planOut {
	stages := p.APIStages
	if stages == nil {
		stages = []catalog.APIStage{}
	}
	return &planOut{ID: p.ID, Name: p.Name, Description: p.Description, APIStages: stages, Throttle: p.Throttle, Quota: p.Quota, Tags: p.Tags}
}

func (h *Handler) createUsagePlan(w http.ResponseWriter, r *http.Request) error {
	var in catalog.UsagePlan
	if err := decode(r, &in); err != nil {
		return err
	}
	in.KeyIDs = nil
	p, err := h.d.Catalog.CreateUsagePlan(r.Context(), &in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, outPlan(p))
}

func (h *Handler) getUsagePlans(w http.ResponseWriter, r *http.Request) error {
	var all []*planOut
	for _, p := range h.d.Catalog.UsagePlans() {
		all = append(all, outPlan(p))
	}
	return listREST(w, r, all)
}

func (h *Handler) getUsagePlan(w http.ResponseWriter, r *http.Request) error {
	p, err := h.d.Catalog.UsagePlan(r.PathValue("planId"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, outPlan(p))
}

func (h *Handler) deleteUsagePlan(w http.ResponseWriter, r *http.Request) error {
	if err := h.d.Catalog.DeleteUsagePlan(r.Context(), r.PathValue("planId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// planKeyOut is a UsagePlanKey.
type planKeyOut struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Name string `json:"name"`
}

func (h *Handler) createUsagePlanKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		KeyID   string `json:"keyId"`
		KeyType string `json:"keyType"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.KeyType != "API_KEY" {
		return badRequest("keyType must be API_KEY")
	}
	k, err := h.d.Catalog.APIKey(in.KeyID)
	if err != nil {
		return err
	}
	_, err = h.d.Catalog.UpdateUsagePlan(r.Context(), r.PathValue("planId"), func(p *catalog.UsagePlan) error {
		for _, id := range p.KeyIDs {
			if id == in.KeyID {
				return conflict("Usage Plan " + p.ID + " cannot be added because API Key " + id + " already belongs to it")
			}
		}
		p.KeyIDs = append(p.KeyIDs, in.KeyID)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, &planKeyOut{ID: k.ID, Type: "API_KEY", Name: k.Name})
}

func (h *Handler) getUsagePlanKeys(w http.ResponseWriter, r *http.Request) error {
	p, err := h.d.Catalog.UsagePlan(r.PathValue("planId"))
	if err != nil {
		return err
	}
	var all []*planKeyOut
	for _, id := range p.KeyIDs {
		if k, err := h.d.Catalog.APIKey(id); err == nil {
			all = append(all, &planKeyOut{ID: k.ID, Type: "API_KEY", Name: k.Name})
		}
	}
	return listREST(w, r, all)
}

func (h *Handler) deleteUsagePlanKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("keyId")
	_, err := h.d.Catalog.UpdateUsagePlan(r.Context(), r.PathValue("planId"), func(p *catalog.UsagePlan) error {
		n := len(p.KeyIDs)
		for i, k := range p.KeyIDs {
			if k == id {
				p.KeyIDs = append(p.KeyIDs[:i:i], p.KeyIDs[i+1:]...)
				break
			}
		}
		if len(p.KeyIDs) == n {
			return notFound("Invalid Usage Plan Key identifier specified")
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// listREST writes a REST API list: {"item":[...],"position"}.
func listREST[T any](w http.ResponseWriter, r *http.Request, all []T) error {
	start, end, next, err := pageREST(r, len(all))
	if err != nil {
		return err
	}
	out := struct {
		Item     []T    `json:"item"`
		Position string `json:"position,omitempty"`
	}{all[start:end], next}
	if out.Item == nil {
		out.Item = []T{}
	}
	return writeJSON(w, http.StatusOK, out)
}

// pageREST is page for the REST API management's limit and position.
func pageREST(r *http.Request, n int) (start, end int, next string, err error) {
	q := r.URL.Query()
	rq := r.Clone(r.Context())
	v := rq.URL.Query()
	v.Set("maxResults", q.Get("limit"))
	v.Set("nextToken", q.Get("position"))
	if q.Get("limit") == "" {
		v.Del("maxResults")
	}
	rq.URL.RawQuery = v.Encode()
	return page(rq, n)
}

// maxUsageDays bounds the days one GetUsage reports.
const maxUsageDays = 366

// usageOut is a Usage: per API key, one [used, remaining] pair a day. The
// remaining quota counts the earlier days of the quota's period; without
// a quota it is -1.
type usageOut struct {
	UsagePlanID string               `json:"usagePlanId"`
	StartDate   string               `json:"startDate"`
	EndDate     string               `json:"endDate"`
	Position    string               `json:"position,omitempty"`
	Values      map[string][][]int64 `json:"values"`
}

func (h *Handler) getUsage(w http.ResponseWriter, r *http.Request) error {
	p, err := h.d.Catalog.UsagePlan(r.PathValue("planId"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	first, err1 := time.Parse(time.DateOnly, q.Get("startDate"))
	last, err2 := time.Parse(time.DateOnly, q.Get("endDate"))
	if err1 != nil || err2 != nil {
		return badRequest("startDate and endDate must be dates such as 2016-01-31")
	}
	if last.Before(first) {
		return badRequest("The endDate must not be before the startDate")
	}
	days := int(last.Sub(first).Hours()/24) + 1
	if days > maxUsageDays {
		return badRequest("GetUsage reports at most " + strconv.Itoa(maxUsageDays) + " days")
	}
	limit, period := int64(-1), throttle.Day
	from := first // the days counted: back to the start of the quota's period
	if p.Quota != nil {
		limit = p.Quota.Limit
		period, _ = throttle.ParsePeriod(p.Quota.Period)
		from = period.Start(first)
	}
	keyID := q.Get("keyId")
	var counts map[string]map[time.Time]int64
	if h.d.Usage != nil {
		if counts, err = h.d.Usage.Daily(r.Context(), p.ID, keyID, from, last); err != nil {
			return err
		}
	}
	keys := []string{keyID}
	if keyID == "" {
		keys = slices.Concat(p.KeyIDs, slices.Collect(maps.Keys(counts)))
		slices.Sort(keys)
		keys = slices.Compact(keys)
	}
	start, end, next, err := pageREST(r, len(keys))
	if err != nil {
		return err
	}
	out := &usageOut{UsagePlanID: p.ID, StartDate: q.Get("startDate"), EndDate: q.Get("endDate"), Position: next, Values: map[string][][]int64{}}
	for _, k := range keys[start:end] {
		rows := make([][]int64, 0, days)
		var periodStart time.Time
		var inPeriod int64
		for d := from; !d.After(last); d = d.AddDate(0, 0, 1) {
			if ps := period.Start(d); !ps.Equal(periodStart) {
				periodStart, inPeriod = ps, 0
			}
			used := counts[k][d]
			inPeriod += used
			if d.Before(first) {
				continue
			}
			remaining := int64(-1)
			if limit >= 0 {
				remaining = max(0, limit-inPeriod)
			}
			rows = append(rows, []int64{used, remaining})
		}
		out.Values[k] = rows
	}
	return writeJSON(w, http.StatusOK, out)
}
