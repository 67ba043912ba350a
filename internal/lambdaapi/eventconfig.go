package lambdaapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/registry"
)

// eventConfigInput is the body of Put/UpdateFunctionEventInvokeConfig.
type eventConfigInput struct {
	MaximumRetryAttempts     *int                        `json:"MaximumRetryAttempts"`
	MaximumEventAgeInSeconds *int                        `json:"MaximumEventAgeInSeconds"`
	DestinationConfig        *function.DestinationConfig `json:"DestinationConfig"`
}

func (s *Server) putEventConfig(w http.ResponseWriter, r *http.Request, req *request) error {
	return s.saveEventConfig(w, r, req, true)
}

func (s *Server) updateEventConfig(w http.ResponseWriter, r *http.Request, req *request) error {
	return s.saveEventConfig(w, r, req, false)
}

// saveEventConfig replaces the configuration (Put) or merges the given
// fields into it (Update).
func (s *Server) saveEventConfig(w http.ResponseWriter, r *http.Request, req *request, replace bool) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	var in eventConfigInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	cfg := &function.EventInvokeConfig{}
	if !replace {
		cur, err := s.d.Registry.EventConfig(r.Context(), rec.Config.FunctionName)
		if err != nil {
			return err
		}
		if cur != nil {
			cfg = cur
		}
	}
	if replace || in.MaximumRetryAttempts != nil {
		cfg.MaximumRetryAttempts = in.MaximumRetryAttempts
	}
	if replace || in.MaximumEventAgeInSeconds != nil {
		cfg.MaximumEventAgeInSeconds = in.MaximumEventAgeInSeconds
	}
	if replace || in.DestinationConfig != nil {
		cfg.DestinationConfig = in.DestinationConfig
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := s.checkTargets(rec.Config.Role, cfg.OnSuccess(), cfg.OnFailure()); err != nil {
		return err
	}
	cfg.FunctionArn = rec.Config.FunctionArn + ":" + function.LatestVersion
	cfg.LastModified = float64(time.Now().UnixMilli()) / 1000
	if err := s.d.Registry.PutEventConfig(r.Context(), rec.Config.FunctionName, cfg); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cfg)
	return nil
}

// eventConfig looks up the function of the request and its event-invoke
// configuration; with must, a missing configuration is Lambda's 404.
func (s *Server) eventConfig(r *http.Request, req *request, must bool) (*registry.Record, *function.EventInvokeConfig, error) {
	rec, err := s.lookup(r, req)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := s.d.Registry.EventConfig(r.Context(), rec.Config.FunctionName)
	if err != nil {
		return nil, nil, err
	}
	if cfg == nil && must {
		return nil, nil, function.Errorf(fault.NotFound, "ResourceNotFoundException",
			"The function %s:%s doesn't have an EventInvokeConfig", rec.Config.FunctionArn, function.LatestVersion)
	}
	return rec, cfg, nil
}

func (s *Server) getEventConfig(w http.ResponseWriter, r *http.Request, req *request) error {
	_, cfg, err := s.eventConfig(r, req, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cfg)
	return nil
}

func (s *Server) deleteEventConfig(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, _, err := s.eventConfig(r, req, true)
	if err != nil {
		return err
	}
	if err := s.d.Registry.DeleteEventConfig(r.Context(), rec.Config.FunctionName); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listEventConfigs(w http.ResponseWriter, r *http.Request, req *request) error {
	_, cfg, err := s.eventConfig(r, req, false)
	if err != nil {
		return err
	}
	list := []*function.EventInvokeConfig{}
	if cfg != nil {
		list = append(list, cfg)
	}
	writeJSON(w, http.StatusOK, map[string]any{"FunctionEventInvokeConfigs": list})
	return nil
}

func (s *Server) queueStats(w http.ResponseWriter, r *http.Request, req *request) error {
	if s.d.Queue == nil {
		return function.Errorf(fault.NotFound, "ResourceNotFoundException", "asynchronous invocations are not enabled on this server")
	}
	stats, err := s.d.Queue.Stats(r.Context())
	if err != nil {
		return err
	}
	b, err := json.Marshal(map[string]any{"Functions": stats})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	return nil
}
