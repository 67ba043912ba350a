package lambdaapi

import (
	"net/http"

	"github.com/aloft-dev/aloft/internal/function"
)

// minUnreserved is the concurrency Lambda keeps for functions without a
// reservation.
const minUnreserved = 100

func (s *Server) putConcurrency(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	var in struct {
		ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
	}
	if err := decode(req.body, &in); err != nil {
		return err
	}
	n := in.ReservedConcurrentExecutions
	if n == nil {
		return function.Validation("null", "reservedConcurrentExecutions", "Member must not be null")
	}
	if *n < 0 {
		return function.Validation(*n, "reservedConcurrentExecutions", "Member must have value greater than or equal to 0")
	}
	_, err = s.d.Registry.SetReserved(r.Context(), rec.Config.FunctionName, n, func(others int) error {
		if s.d.ConcurrencyLimit-others-*n < minUnreserved {
			return function.InvalidParameter("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", minUnreserved)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"ReservedConcurrentExecutions": *n})
	return nil
}

func (s *Server) getConcurrency(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	out := map[string]int{}
	if rec.Reserved != nil {
		out["ReservedConcurrentExecutions"] = *rec.Reserved
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteConcurrency(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	if _, err := s.d.Registry.SetReserved(r.Context(), rec.Config.FunctionName, nil, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// keepAliveState shows the adaptive keep-alive policy of a function.
func (s *Server) keepAliveState(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	st := s.d.Invoker.KeepAlive(rec.Config.FunctionName)
	writeJSON(w, http.StatusOK, map[string]any{
		"FunctionName": rec.Config.FunctionName,
		"Samples":      st.Samples,
		"OutOfRange":   st.OutOfRange,
		"CV":           st.CV,
		"Adaptive":     st.Window.Adaptive,
		"Reason":       st.Reason,
		"PreWarm":      st.Window.PreWarm.String(),
		"KeepAlive":    st.Window.KeepAlive.String(),
	})
	return nil
}
