package lambdaapi

import (
	"maps"
	"net/http"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/registry"
)

// tagged resolves the {arn} of the tagging operations to a function.
// Tags belong to the function, not to a version or alias.
func (s *Server) tagged(r *http.Request, req *request) (*registry.Record, error) {
	arn := r.PathValue("arn")
	name, qual, ok := function.ParseRef(arn)
	if !ok {
		return nil, function.Validation(arn, "resource", "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:function:[a-zA-Z0-9-_]+")
	}
	if qual != "" {
		return nil, function.InvalidParameter("Tags are supported on functions only, not on versions or aliases: %s", arn)
	}
	rec, found := s.d.Registry.Get(name)
	if !found {
		return nil, function.NotFound(function.ARN(req.region, name, ""))
	}
	return rec, nil
}

// tagsOf returns a function's tags, never nil.
func tagsOf(rec *registry.Record) map[string]string {
	if rec.Tags == nil {
		return map[string]string{}
	}
	return rec.Tags
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.tagged(r, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"Tags": tagsOf(rec)})
	return nil
}

func (s *Server) tagResource(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.tagged(r, req)
	if err != nil {
		return err
	}
	var in struct {
		Tags map[string]string `json:"Tags"`
	}
	if err := decode(req.body, &in); err != nil {
		return err
	}
	if len(in.Tags) == 0 {
		return function.InvalidParameter("A list of tags is required.")
	}
	_, err = s.d.Registry.Amend(r.Context(), rec.Config.FunctionName, func(rec *registry.Record) error {
		tags := maps.Clone(rec.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		maps.Copy(tags, in.Tags)
		if err := function.ValidateTags(tags); err != nil {
			return err
		}
		rec.Tags = tags
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) untagResource(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.tagged(r, req)
	if err != nil {
		return err
	}
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		return function.InvalidParameter("A list of tag keys is required.")
	}
	_, err = s.d.Registry.Amend(r.Context(), rec.Config.FunctionName, func(rec *registry.Record) error {
		for _, k := range keys {
			delete(rec.Tags, k)
		}
		if len(rec.Tags) == 0 {
			rec.Tags = nil
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
