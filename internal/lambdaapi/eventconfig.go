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
	rec, key, arn, err := s.eventConfigKey(r, req)
	if err != nil {
		return err
	}
	var in eventConfigInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	cfg := &function.EventInvokeConfig{}
	if !replace {
		cur, err := s.d.Registry.EventConfig(r.Context(), key)
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
	cfg.FunctionArn = arn
	cfg.LastModified = float64(time.Now().UnixMilli()) / 1000
	if err := s.d.Registry.PutEventConfig(r.Context(), key, cfg); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cfg)
	return nil
}

// eventConfigKey resolves the function and qualifier of the request
// ($LATEST without one; a version or an alias that must exist) to the
// key of its event-invoke configuration and the ARN it reports.
func (s *Server) eventConfigKey(r *http.Request, req *request) (rec *registry.Record, key, arn string, err error) {
	t, err := s.target(r, req, false)
	if err != nil {
		return nil, "", "", err
	}
	q := t.Qualifier
	if q == "" {
		q = function.LatestVersion
	}
	rec = t.Record
	return rec, registry.EventKey(rec.Config.FunctionName, q), rec.Config.FunctionArn + ":" + q, nil
}

// eventConfig looks up the function of the request and its event-invoke
// configuration; with must, a missing configuration is Lambda's 404.
func (s *Server) eventConfig(r *http.Request, req *request, must bool) (string, *function.EventInvokeConfig, error) {
	_, key, arn, err := s.eventConfigKey(r, req)
	if err != nil {
		return "", nil, err
	}
	cfg, err := s.d.Registry.EventConfig(r.Context(), key)
	if err != nil {
		return "", nil, err
	}
	if cfg == nil && must {
		return "", nil, function.Errorf(fault.NotFound, "ResourceNotFoundException",
			"The function %s doesn't have an EventInvokeConfig", arn)
	}
	return key, cfg, nil
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
	key, _, err := s.eventConfig(r, req, true)
	if err != nil {
		return err
	}
	if err := s.d.Registry.DeleteEventConfig(r.Context(), key); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listEventConfigs(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	list, err := s.d.Registry.EventConfigs(r.Context(), rec.Config.FunctionName)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*function.EventInvokeConfig{}
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
