// Package schedulerapi serves the EventBridge Scheduler API subset
// (rest-json, 2021-06-30) over package scheduler: schedules and schedule
// groups. It decodes requests, calls the scheduler and encodes its answers;
// the scheduler's errors become the API's through one table (wireError).
// Requests reach it already authenticated.
package schedulerapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/scheduler"
)

// api serves one scheduler.
type api struct {
	s   *scheduler.Scheduler
	log *slog.Logger // the server's own failures (5xx) go here
}

// New returns the API's handler for s.
func New(s *scheduler.Scheduler, log *slog.Logger) http.Handler {
	a := &api{s, log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /schedules/{name}", a.handlePut(true))
	mux.HandleFunc("PUT /schedules/{name}", a.handlePut(false))
	mux.HandleFunc("GET /schedules/{name}", a.handleGet)
	mux.HandleFunc("DELETE /schedules/{name}", a.handleDelete)
	mux.HandleFunc("GET /schedules", a.handleList)
	mux.HandleFunc("POST /schedule-groups/{name}", a.handleCreateGroup)
	mux.HandleFunc("GET /schedule-groups/{name}", a.handleGetGroup)
	mux.HandleFunc("DELETE /schedule-groups/{name}", a.handleDeleteGroup)
	mux.HandleFunc("GET /schedule-groups", a.handleListGroups)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.writeErr(w, r, awsproto.Errorf(http.StatusNotFound, "ResourceNotFoundException", "Unknown operation %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// wireError maps the scheduler's errors to the API's: a write the
// cluster cannot take now is 503 ServiceUnavailableException
// (awsproto.Unavailable), which clients send again; an error of no kind
// is 500 InternalServerException.
func wireError(err error) *awsproto.Error {
	var ae *awsproto.Error
	if errors.As(err, &ae) {
		return ae
	}
	if u := awsproto.Unavailable(awsproto.RESTJSON, err); u != nil {
		return u
	}
	var se *fault.Error
	if !errors.As(err, &se) {
		return &awsproto.Error{Status: http.StatusInternalServerError, Code: "InternalServerException", Message: "The service cannot complete the request.", Err: err}
	}
	switch se.Kind {
	case fault.NotFound:
		return &awsproto.Error{Status: http.StatusNotFound, Code: "ResourceNotFoundException", Message: se.Message}
	case fault.Conflict:
		return &awsproto.Error{Status: http.StatusConflict, Code: "ConflictException", Message: se.Message}
	}
	return &awsproto.Error{Status: http.StatusBadRequest, Code: "ValidationException", Message: se.Message}
}

// writeErr writes err as the API's error (wireError), logging the
// server's own failures: those answered with a 5xx.
func (a *api) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	e := wireError(err)
	if e.Status >= 500 && a.log != nil {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", w.Header().Get("X-Amzn-Requestid"), "err", err)
	}
	awsproto.WriteError(w, nil, awsproto.RESTJSON, e, "")
}

// validation is the API's own ValidationException.
func validation(format string, args ...any) error {
	return awsproto.Errorf(http.StatusBadRequest, "ValidationException", format, args...)
}

func writeOK(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (a *api) handlePut(create bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var sc scheduler.Schedule
		if err := json.NewDecoder(r.Body).Decode(&sc); err != nil {
			a.writeErr(w, r, validation("Could not parse the request body: %v", err))
			return
		}
		sc.Name = r.PathValue("name")
		// The schedule invokes its target for whoever made it: they must
		// be allowed to themselves.
		if p := edge.Principal(r.Context()); p != nil && p.Kind != iam.RootPrincipal && sc.Target.Arn != "" {
			if err := p.Authorize("lambda:InvokeFunction", sc.Target.Arn); err != nil {
				a.writeErr(w, r, &awsproto.Error{Status: http.StatusForbidden, Code: "AccessDeniedException", Message: err.Error() + " (the schedule would do it)"})
				return
			}
		}
		out, err := a.s.Put(r.Context(), sc, create)
		if err != nil {
			a.writeErr(w, r, err)
			return
		}
		writeOK(w, map[string]string{"ScheduleArn": out.Arn})
	}
}

func (a *api) handleGet(w http.ResponseWriter, r *http.Request) {
	sc, err := a.s.Get(r.URL.Query().Get("groupName"), r.PathValue("name"))
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeOK(w, sc)
}

func (a *api) handleDelete(w http.ResponseWriter, r *http.Request) {
	if err := a.s.Delete(r.Context(), r.URL.Query().Get("groupName"), r.PathValue("name")); err != nil {
		a.writeErr(w, r, err)
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

func (a *api) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	all := a.s.List(q.Get("ScheduleGroup"), q.Get("NamePrefix"), q.Get("State"))
	start, end, next, err := page(len(all), r)
	if err != nil {
		a.writeErr(w, r, err)
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

func (a *api) handleCreateGroup(w http.ResponseWriter, r *http.Request) {
	g, err := a.s.CreateGroup(r.Context(), r.PathValue("name"))
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeOK(w, map[string]string{"ScheduleGroupArn": g.Arn})
}

func (a *api) handleGetGroup(w http.ResponseWriter, r *http.Request) {
	g, err := a.s.GetGroup(r.PathValue("name"))
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeOK(w, g)
}

func (a *api) handleDeleteGroup(w http.ResponseWriter, r *http.Request) {
	if err := a.s.DeleteGroup(r.Context(), r.PathValue("name")); err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeOK(w, struct{}{})
}

func (a *api) handleListGroups(w http.ResponseWriter, r *http.Request) {
	all := a.s.Groups()
	start, end, next, err := page(len(all), r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeOK(w, struct {
		ScheduleGroups []scheduler.Group `json:"ScheduleGroups"`
		NextToken      string            `json:"NextToken,omitempty"`
	}{all[start:end], next})
}
