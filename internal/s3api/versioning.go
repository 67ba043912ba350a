package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// This file serves bucket versioning: its configuration, version
// listings, and the version ids and delete markers every object
// operation reports.

// versionName is S3's name of a stored version id ("" is the null
// version).
func versionName(id string) string {
	if id == "" {
		return objstore.NullVersion
	}
	return id
}

// versionHeader sets x-amz-version-id on a write's answer: the version
// made, or "null" in a bucket whose versioning is set.
func (h *Handler) versionHeader(r *http.Request, hdr http.Header, bucket, id string) {
	if id == "" {
		if v, err := h.d.Store.Versioning(r.Context(), bucket); err != nil || v == "" {
			return
		}
	}
	hdr.Set("X-Amz-Version-Id", versionName(id))
}

// markerAnswer adds to a read that found a delete marker the headers S3
// gives it (x-amz-delete-marker, the marker's version and time) and
// returns err for the error document: NoSuchKey (404) for the current
// version, MethodNotAllowed (405) for one named.
func markerAnswer(w http.ResponseWriter, err error) error {
	var me *objstore.MarkerError
	if errors.As(err, &me) {
		hdr := w.Header()
		hdr.Set("X-Amz-Delete-Marker", "true")
		hdr.Set("X-Amz-Version-Id", versionName(me.VersionID))
		if !me.Current {
			hdr.Set("Last-Modified", me.LastModified.UTC().Format(http.TimeFormat))
			hdr.Set("Allow", "DELETE")
		}
	}
	return err
}

// delete removes a key's current version (a delete marker, with
// versioning) or, given one, the version named: under GOVERNANCE
// retention only with x-amz-bypass-governance-retention from a signer
// allowed to bypass it.
func (h *Handler) delete(ctx context.Context, r *http.Request, rq *request, key string, version []string) (objstore.Deleted, error) {
	if len(version) == 0 {
		return h.d.Store.DeleteObject(ctx, rq.bucket, key)
	}
	if bypass, err := h.bypass(r, rq, key); err != nil {
		return objstore.Deleted{}, err
	} else if bypass {
		ctx = objstore.WithBypassGovernance(ctx)
	}
	return h.d.Store.DeleteVersion(ctx, rq.bucket, key, version[0])
}

// removal is the event a deletion notifies: making a delete marker, or
// removing (by version, byVersion) an object or a marker.
func removal(del objstore.Deleted, byVersion bool) string {
	if del.DeleteMarker && !byVersion {
		return "ObjectRemoved:DeleteMarkerCreated"
	}
	return "ObjectRemoved:Delete"
}

// deletedInfo describes a deletion for its change record.
func deletedInfo(bucket, key string, del objstore.Deleted) objstore.ObjectInfo {
	return objstore.ObjectInfo{Bucket: bucket, Key: key, LastModified: del.Time, Sequencer: del.Sequencer,
		VersionID: del.VersionID, DeleteMarker: del.DeleteMarker}
}

// versioningDocument is GetBucketVersioning's answer and
// PutBucketVersioning's body.
type versioningDocument struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Xmlns     string   `xml:"xmlns,attr,omitempty"`
	Status    string   `xml:",omitempty"`
	MFADelete string   `xml:",omitempty"`
}

func getBucketVersioning(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	v, err := h.d.Store.Versioning(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, versioningDocument{Xmlns: xmlns, Status: v})
	return nil
}

// putBucketVersioning sets Enabled or Suspended. MFA delete is refused:
// it needs a device Aloft has no way to check.
func putBucketVersioning(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	body, err := h.readSmall(r, rq, 64<<10)
	if err != nil {
		return err
	}
	var doc versioningDocument
	if err := decodeXML(body, &doc); err != nil {
		return err
	}
	switch doc.MFADelete {
	case "", "Disabled":
	case "Enabled":
		return s3err("NotImplemented", "MFA delete is not implemented.")
	default:
		return s3err("IllegalVersioningConfigurationException", "")
	}
	if doc.Status != objstore.VersioningEnabled && doc.Status != objstore.VersioningSuspended {
		return s3err("IllegalVersioningConfigurationException", "")
	}
	if err := h.d.Store.PutVersioning(r.Context(), rq.bucket, doc.Status); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// listVersionsResult is ListObjectVersions' answer. Versions and delete
// markers are one list, in order, each element named by its XMLName.
type listVersionsResult struct {
	XMLName             xml.Name `xml:"ListVersionsResult"`
	Xmlns               string   `xml:"xmlns,attr"`
	Name                string
	Prefix              string
	KeyMarker           string
	VersionIDMarker     string `xml:"VersionIdMarker"`
	NextKeyMarker       string `xml:",omitempty"`
	NextVersionIDMarker string `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int
	Delimiter           string `xml:",omitempty"`
	EncodingType        string `xml:",omitempty"`
	IsTruncated         bool
	Entries             []versionEntry
	CommonPrefixes      []commonPrefix
}

// versionEntry is a Version or a DeleteMarker element.
type versionEntry struct {
	XMLName      xml.Name
	Key          string
	VersionID    string `xml:"VersionId"`
	IsLatest     bool
	LastModified string
	ETag         string `xml:",omitempty"`
	Size         *int64 `xml:",omitempty"`
	Owner        owner
	StorageClass string `xml:",omitempty"`
}

func listObjectVersions(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	q := rq.query
	maxKeys, code, enc, err := listParams(q, "max-keys")
	if err != nil {
		return err
	}
	opts := objstore.VersionListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"),
		KeyMarker: q.Get("key-marker"), VersionIDMarker: q.Get("version-id-marker"), MaxKeys: maxKeys}
	if opts.VersionIDMarker != "" && opts.KeyMarker == "" {
		return s3err("InvalidArgument", "A version-id marker cannot be specified without a key marker.")
	}
	out := listVersionsResult{Xmlns: xmlns, Name: rq.bucket, Prefix: code(opts.Prefix), KeyMarker: code(opts.KeyMarker),
		VersionIDMarker: opts.VersionIDMarker, MaxKeys: maxKeys, Delimiter: code(opts.Delimiter), EncodingType: enc}
	var res objstore.VersionList
	if maxKeys > 0 {
		if res, err = h.d.Store.ListVersions(r.Context(), rq.bucket, opts); err != nil {
			return err
		}
	} else if _, err := h.d.Store.Bucket(r.Context(), rq.bucket); err != nil {
		return err
	}
	for _, v := range res.Versions {
		e := versionEntry{XMLName: xml.Name{Local: "Version"}, Key: code(v.Key), VersionID: versionName(v.VersionID),
			IsLatest: v.IsLatest, LastModified: s3Time(v.LastModified), Owner: theOwner}
		if v.DeleteMarker {
			e.XMLName.Local = "DeleteMarker"
		} else {
			size := v.Size
			e.ETag, e.Size, e.StorageClass = quote(v.ETag), &size, "STANDARD"
		}
		out.Entries = append(out.Entries, e)
	}
	for _, p := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: code(p)})
	}
	out.IsTruncated = res.IsTruncated
	if res.IsTruncated {
		out.NextKeyMarker, out.NextVersionIDMarker = code(res.NextKeyMarker), res.NextVersionIDMarker
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

// versionAction is the IAM action of an object operation on a version
// named in the query: S3's *Version actions.
func versionAction(action string, rq *request) string {
	if !rq.query.Has("versionId") {
		return action
	}
	switch action {
	case "s3:GetObject", "s3:DeleteObject", "s3:GetObjectTagging", "s3:PutObjectTagging",
		"s3:DeleteObjectTagging", "s3:GetObjectAcl", "s3:PutObjectAcl", "s3:GetObjectAttributes":
		if strings.HasSuffix(action, "Attributes") {
			return "s3:GetObjectVersionAttributes"
		}
		return strings.Replace(action, "Object", "ObjectVersion", 1)
	}
	return action
}

// The version actions are among Actions.
func init() {
	Actions = append(Actions, "s3:GetObjectVersion", "s3:DeleteObjectVersion", "s3:GetObjectVersionTagging",
		"s3:PutObjectVersionTagging", "s3:DeleteObjectVersionTagging", "s3:GetObjectVersionAcl",
		"s3:PutObjectVersionAcl", "s3:GetObjectVersionAttributes")
}
