package schedulerapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// Operation is the Scheduler API's table from requests to IAM actions
// and resources, for the front door's authorization.
func Operation(r *http.Request, body []byte) (edge.Operation, *awsproto.Error) {
	region, _, _ := sigv4.Scope(r)
	if region == "" {
		region = awsproto.DefaultRegion
	}
	base := "arn:aws:scheduler:" + region + ":" + awsproto.AccountID + ":"
	kind, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var verb string
	switch r.Method {
	case http.MethodPost:
		verb = "Create"
	case http.MethodPut:
		verb = "Update"
	case http.MethodGet, http.MethodHead:
		verb = "Get"
		if name == "" {
			verb = "List"
		}
	case http.MethodDelete:
		verb = "Delete"
	default:
		return edge.Operation{}, nil
	}
	switch {
	case kind == "schedules" && name == "":
		return edge.Operation{Action: "scheduler:ListSchedules", Resource: "*"}, nil
	case kind == "schedules":
		// The group as the handler takes it: from the body when writing.
		group := r.URL.Query().Get("groupName")
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			var in struct{ GroupName string }
			json.Unmarshal(body, &in) // a body that is not JSON is the handler's to refuse
			group = in.GroupName
		}
		if group == "" {
			group = "default"
		}
		return edge.Operation{Action: "scheduler:" + verb + "Schedule", Resource: base + "schedule/" + group + "/" + name}, nil
	case kind == "schedule-groups" && name == "":
		return edge.Operation{Action: "scheduler:ListScheduleGroups", Resource: "*"}, nil
	case kind == "schedule-groups":
		return edge.Operation{Action: "scheduler:" + verb + "ScheduleGroup", Resource: base + "schedule-group/" + name}, nil
	}
	return edge.Operation{}, nil
}

// Actions are the IAM actions of the Scheduler API's operations.
var Actions = []string{"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule",
	"scheduler:ListSchedules", "scheduler:CreateScheduleGroup", "scheduler:GetScheduleGroup", "scheduler:DeleteScheduleGroup",
	"scheduler:ListScheduleGroups"}
