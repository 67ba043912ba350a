package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// This file serves Object Lock: the bucket configuration, the retention
// and legal hold of versions, the headers that set them on writes and
// report them on reads, and the bypass of GOVERNANCE retention.

// lockOptions reads the Object Lock headers of a write: a retention
// (mode and date, both or neither) and a legal hold.
func lockOptions(r *http.Request) (objstore.Retention, bool, error) {
	var ret objstore.Retention
	mode, date := r.Header.Get("X-Amz-Object-Lock-Mode"), r.Header.Get("X-Amz-Object-Lock-Retain-Until-Date")
	if (mode == "") != (date == "") {
		return ret, false, s3err("InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
	}
	if mode != "" {
		if mode != objstore.LockGovernance && mode != objstore.LockCompliance {
			return ret, false, s3err("InvalidArgument", "Unknown wormMode directive.")
		}
		until, err := time.Parse(time.RFC3339, date)
		if err != nil {
			return ret, false, s3err("InvalidArgument", "The retain until date must be provided in ISO 8601 format")
		}
		if !until.After(time.Now()) {
			return ret, false, s3err("InvalidArgument", "The retain until date must be in the future!")
		}
		ret = objstore.Retention{Mode: mode, Until: until.UTC()}
	}
	hold := false
	switch v := r.Header.Get("X-Amz-Object-Lock-Legal-Hold"); v {
	case "":
	case "ON":
		hold = true
	case "OFF":
	default:
		return ret, false, s3err("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'")
	}
	return ret, hold, nil
}

// hasLockHeaders reports whether a write names a retention or legal hold.
func hasLockHeaders(r *http.Request) bool {
	return r.Header.Get("X-Amz-Object-Lock-Mode") != "" || r.Header.Get("X-Amz-Object-Lock-Retain-Until-Date") != "" ||
		r.Header.Get("X-Amz-Object-Lock-Legal-Hold") != ""
}

// setLockHeaders reports a version's Object Lock on a read.
func setLockHeaders(hdr http.Header, info objstore.ObjectInfo) {
	if info.Retention.Mode != "" {
		hdr.Set("X-Amz-Object-Lock-Mode", info.Retention.Mode)
		hdr.Set("X-Amz-Object-Lock-Retain-Until-Date", info.Retention.Until.UTC().Format(time.RFC3339))
	}
	if info.LegalHold {
		hdr.Set("X-Amz-Object-Lock-Legal-Hold", "ON")
	}
}

// objectLockHeader takes the Object Lock headers on the writes that
// honour them (PutObject, CopyObject, CreateMultipartUpload); putOptions
// checks their values and the store whether the bucket has Object Lock.
func objectLockHeader(r *http.Request, rq *request, _ string) error {
	_, uploads := rq.query["uploads"]
	_, upload := rq.query["uploadId"]
	if rq.hasKey && (r.Method == http.MethodPut && !upload || r.Method == http.MethodPost && uploads) {
		return nil
	}
	return s3err("InvalidRequest", "Object Lock headers are taken only by writes of objects.")
}

// bucketLockEnabled takes x-amz-bucket-object-lock-enabled on
// CreateBucket.
func bucketLockEnabled(_ *http.Request, _ *request, v string) error {
	if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
		return nil
	}
	return s3err("InvalidArgument", "x-amz-bucket-object-lock-enabled must be true or false")
}

// bypassHeader takes x-amz-bypass-governance-retention: true, which the
// operations that may remove or weaken a retention check for themselves
// (s3:BypassGovernanceRetention).
func bypassHeader(_ *http.Request, _ *request, v string) error {
	if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
		return nil
	}
	return s3err("InvalidArgument", "x-amz-bypass-governance-retention must be true or false")
}

// bypass reports whether r asks to bypass GOVERNANCE retention, once the
// signer is found allowed s3:BypassGovernanceRetention on the object.
func (h *Handler) bypass(r *http.Request, rq *request, key string) (bool, error) {
	if !strings.EqualFold(r.Header.Get("X-Amz-Bypass-Governance-Retention"), "true") {
		return false, nil
	}
	if err := h.authorize(r, rq.signer, "s3:BypassGovernanceRetention", "arn:aws:s3:::"+rq.bucket+"/"+key, nil, rq.bucket); err != nil {
		return false, err
	}
	return true, nil
}

// objectLockConfiguration is the bucket document.
type objectLockConfiguration struct {
	XMLName           xml.Name        `xml:"ObjectLockConfiguration"`
	Xmlns             string          `xml:"xmlns,attr,omitempty"`
	ObjectLockEnabled string          `xml:",omitempty"`
	Rule              *objectLockRule `xml:",omitempty"`
}

type objectLockRule struct {
	Mode  string `xml:"DefaultRetention>Mode,omitempty"`
	Days  int    `xml:"DefaultRetention>Days,omitempty"`
	Years int    `xml:"DefaultRetention>Years,omitempty"`
}

func getObjectLockConfiguration(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	cfg, err := h.d.Store.ObjectLock(r.Context(), rq.bucket)
	if errors.Is(err, objstore.ErrNoObjectLock) {
		e := s3err("ObjectLockConfigurationNotFoundError", "")
		e.Bucket = rq.bucket
		return e
	}
	if err != nil {
		return err
	}
	out := objectLockConfiguration{Xmlns: xmlns, ObjectLockEnabled: "Enabled"}
	if cfg.Mode != "" {
		out.Rule = &objectLockRule{Mode: cfg.Mode, Days: cfg.Days, Years: cfg.Years}
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

func putObjectLockConfiguration(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	body, err := h.readSmall(r, rq, 64<<10)
	if err != nil {
		return err
	}
	var doc objectLockConfiguration
	if err := decodeXML(body, &doc); err != nil {
		return err
	}
	if doc.ObjectLockEnabled != "Enabled" {
		return s3err("MalformedXML", "")
	}
	var cfg objstore.ObjectLockConfig
	if rule := doc.Rule; rule != nil {
		switch {
		case rule.Mode != objstore.LockGovernance && rule.Mode != objstore.LockCompliance:
			return s3err("MalformedXML", "")
		case (rule.Days > 0) == (rule.Years > 0) || rule.Days < 0 || rule.Years < 0:
			return s3err("InvalidArgument", "Default retention period must be a positive integer value for Days or Years, not both.")
		}
		cfg = objstore.ObjectLockConfig{Mode: rule.Mode, Days: rule.Days, Years: rule.Years}
	}
	if err := h.d.Store.PutObjectLock(r.Context(), rq.bucket, cfg); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// retentionDocument is GetObjectRetention's answer and
// PutObjectRetention's body.
type retentionDocument struct {
	XMLName         xml.Name `xml:"Retention"`
	Xmlns           string   `xml:"xmlns,attr,omitempty"`
	Mode            string   `xml:",omitempty"`
	RetainUntilDate string   `xml:",omitempty"`
}

func getObjectRetention(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if _, err := h.d.Store.ObjectLock(r.Context(), rq.bucket); err != nil {
		return err
	}
	info, err := h.d.Store.HeadVersion(r.Context(), rq.bucket, rq.key, rq.query.Get("versionId"))
	if err != nil {
		return markerAnswer(w, err)
	}
	if info.Retention.Mode == "" {
		return s3err("NoSuchObjectLockConfiguration", "")
	}
	writeXML(w, http.StatusOK, retentionDocument{Xmlns: xmlns, Mode: info.Retention.Mode,
		RetainUntilDate: info.Retention.Until.UTC().Format("2006-01-02T15:04:05.000Z")})
	return nil
}

// lockDocument reads the body of a PUT of a version's retention or
// legal hold into doc, once the bucket is found to have Object Lock.
func (h *Handler) lockDocument(r *http.Request, rq *request, doc any) error {
	if _, err := h.d.Store.ObjectLock(r.Context(), rq.bucket); err != nil {
		return err
	}
	body, err := h.readSmall(r, rq, 64<<10)
	if err != nil {
		return err
	}
	return decodeXML(body, doc)
}

// versionAnswer ends a change of one version's Object Lock.
func versionAnswer(w http.ResponseWriter, info objstore.ObjectInfo) error {
	if info.VersionID != "" {
		w.Header().Set("X-Amz-Version-Id", info.VersionID)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func putObjectRetention(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	var doc retentionDocument
	if err := h.lockDocument(r, rq, &doc); err != nil {
		return err
	}
	var ret objstore.Retention
	if doc.Mode != "" || doc.RetainUntilDate != "" {
		if doc.Mode != objstore.LockGovernance && doc.Mode != objstore.LockCompliance {
			return s3err("MalformedXML", "")
		}
		until, err := time.Parse(time.RFC3339, doc.RetainUntilDate)
		if err != nil {
			return s3err("MalformedXML", "")
		}
		if !until.After(time.Now()) {
			return s3err("InvalidArgument", "The retain until date must be in the future!")
		}
		ret = objstore.Retention{Mode: doc.Mode, Until: until}
	}
	bypass, err := h.bypass(r, rq, rq.key)
	if err != nil {
		return err
	}
	info, err := h.d.Store.PutRetention(r.Context(), rq.bucket, rq.key, rq.query.Get("versionId"), ret, bypass)
	if err != nil {
		return markerAnswer(w, err)
	}
	return versionAnswer(w, info)
}

// legalHoldDocument is GetObjectLegalHold's answer and
// PutObjectLegalHold's body.
type legalHoldDocument struct {
	XMLName xml.Name `xml:"LegalHold"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Status  string
}

func getObjectLegalHold(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if _, err := h.d.Store.ObjectLock(r.Context(), rq.bucket); err != nil {
		return err
	}
	info, err := h.d.Store.HeadVersion(r.Context(), rq.bucket, rq.key, rq.query.Get("versionId"))
	if err != nil {
		return markerAnswer(w, err)
	}
	status := "OFF"
	if info.LegalHold {
		status = "ON"
	}
	writeXML(w, http.StatusOK, legalHoldDocument{Xmlns: xmlns, Status: status})
	return nil
}

func putObjectLegalHold(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	var doc legalHoldDocument
	if err := h.lockDocument(r, rq, &doc); err != nil {
		return err
	}
	if doc.Status != "ON" && doc.Status != "OFF" {
		return s3err("MalformedXML", "")
	}
	info, err := h.d.Store.PutLegalHold(r.Context(), rq.bucket, rq.key, rq.query.Get("versionId"), doc.Status == "ON")
	if err != nil {
		return markerAnswer(w, err)
	}
	return versionAnswer(w, info)
}

// The Object Lock actions are among Actions.
func init() {
	Actions = append(Actions, "s3:BypassGovernanceRetention")
}
