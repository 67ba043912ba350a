package scheduler

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Handler serves the EventBridge Scheduler API subset (rest-json,
// 2021-06-30): schedules and schedule groups. Requests reach it already
// authenticated.
func (s *Scheduler) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /schedules/{name}", s.handlePut(true))
	mux.HandleFunc("PUT /schedules/{name}", s.handlePut(false))
	mux.HandleFunc("GET /schedules/{name}", s.handleGet)
	mux.HandleFunc("DELETE /schedules/{name}", s.handleDelete)
	mux.HandleFunc("GET /schedules", s.handleList)
	mux.HandleFunc("POST /schedule-groups/{name}", s.handleCreateGroup)
	mux.HandleFunc("GET /schedule-groups/{name}", s.handleGetGroup)
	mux.HandleFunc("DELETE /schedule-groups/{name}", s.handleDeleteGroup)
	mux.HandleFunc("GET /schedule-groups", s.handleListGroups)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, &apiError{404, "ResourceNotFoundException", "Unknown operation " + r.Method + " " + r.URL.Path})
	})
	return mux
}

func writeErr(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{500, "InternalServerException", err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", ae.code)
	w.WriteHeader(ae.status)
	json.NewEncoder(w).Encode(map[string]string{"Message": ae.msg})
}

func writeOK(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Scheduler) handlePut(create bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var sc Schedule
		if err := json.NewDecoder(r.Body).Decode(&sc); err != nil {
			writeErr(w, validation("Could not parse the request body: %v", err))
			return
		}
		sc.Name = r.PathValue("name")
		out, err := s.Put(r.Context(), sc, create)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeOK(w, map[string]string{"ScheduleArn": out.Arn})
	}
}

func (s *Scheduler) handleGet(w http.ResponseWriter, r *http.Request) {
	sc, err := s.Get(r.URL.Query().Get("groupName"), r.PathValue("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeOK(w, sc)
}

func (s *Scheduler) handleDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Delete(r.Context(), r.URL.Query().Get("groupName"), r.PathValue("name")); err != nil {
		writeErr(w, err)
		return
	}
	writeOK(w, struct{}{})
}

// page cuts a list at the offset in token, returning the next token.
func page(n int, r *http.Request) (start, end int, next string, err error) {
	q := r.URL.Query()
	max := 100
	if v := q.Get("MaxResults"); v != "" {
		if max, err = strconv.Atoi(v); err != nil || max < 1 || max > 100 {
			return 0, 0, "", validation("MaxResults must be between 1 and 100.")
		}
	}
	if t := q.Get("NextToken"); t != "" {
		if start, err = strconv.Atoi(t); err != nil || start < 0 || start > n {
			return 0, 0, "", validation("Invalid NextToken.")
		}
	}
	end = min(start+max, n)
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}

func (s *Scheduler) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	all := s.List(q.Get("ScheduleGroup"), q.Get("NamePrefix"), q.Get("State"))
	start, end, next, err := page(len(all), r)
	if err != nil {
		writeErr(w, err)
		return
	}
	type summary struct {
		Arn                  string            `json:"Arn"`
		Name                 string            `json:"Name"`
		GroupName            string            `json:"GroupName"`
		State                string            `json:"State"`
		CreationDate         float64           `json:"CreationDate"`
		LastModificationDate float64           `json:"LastModificationDate"`
		Target               map[string]string `json:"Target"`
	}
	out := struct {
		Schedules []summary `json:"Schedules"`
		NextToken string    `json:"NextToken,omitempty"`
	}{Schedules: []summary{}, NextToken: next}
	for _, sc := range all[start:end] {
		out.Schedules = append(out.Schedules, summary{sc.Arn, sc.Name, sc.GroupName, sc.State, sc.CreationDate, sc.LastModificationDate, map[string]string{"Arn": sc.Target.Arn}})
	}
	writeOK(w, out)
}

func (s *Scheduler) handleCreateGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.CreateGroup(r.Context(), r.PathValue("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeOK(w, map[string]string{"ScheduleGroupArn": g.Arn})
}

func (s *Scheduler) handleGetGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.GetGroup(r.PathValue("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeOK(w, g)
}

func (s *Scheduler) handleDeleteGroup(w http.ResponseWriter, r *http.Request) {
	if err := s.DeleteGroup(r.Context(), r.PathValue("name")); err != nil {
		writeErr(w, err)
		return
	}
	writeOK(w, struct{}{})
}

func (s *Scheduler) handleListGroups(w http.ResponseWriter, r *http.Request) {
	all := s.Groups()
	start, end, next, err := page(len(all), r)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeOK(w, struct {
		ScheduleGroups []Group `json:"ScheduleGroups"`
		NextToken      string  `json:"NextToken,omitempty"`
	}{all[start:end], next})
}
