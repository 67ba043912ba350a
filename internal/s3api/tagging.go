package s3api

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// S3's limits on tags.
const (
	maxObjectTags = 10
	maxBucketTags = 50
	maxTagKey     = 128 // characters
	maxTagValue   = 256 // characters
)

// taggingDoc is the Tagging document of Get/Put{Object,Bucket}Tagging.
type taggingDoc struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  struct {
		Tags []tagEntry `xml:"Tag"`
	} `xml:"TagSet"`
}

type tagEntry struct {
	Key   string
	Value string
}

// invalidTag is S3's InvalidTag with msg.
func invalidTag(msg string) error { return s3err("InvalidTag", msg) }

// addTag adds one tag to tags after S3's checks.
func addTag(tags map[string]string, k, v string, limit int) error {
	switch {
	case k == "" || !utf8.ValidString(k):
		return invalidTag("The TagKey you have provided is invalid")
	case !utf8.ValidString(v):
		return invalidTag("The TagValue you have provided is invalid")
	case utf8.RuneCountInString(k) > maxTagKey:
		return invalidTag("The TagKey you have provided is too long, max " + strconv.Itoa(maxTagKey))
	case utf8.RuneCountInString(v) > maxTagValue:
		return invalidTag("The TagValue you have provided is too long, max " + strconv.Itoa(maxTagValue))
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		return invalidTag("Your TagKey cannot be prefixed with aws:")
	}
	if _, dup := tags[k]; dup {
		return invalidTag("Cannot provide multiple Tags with the same key")
	}
	if len(tags) == limit {
		if limit == maxObjectTags {
			return invalidTag("Object tags cannot be greater than " + strconv.Itoa(limit))
		}
		return invalidTag("Bucket tag count cannot be greater than " + strconv.Itoa(limit))
	}
	tags[k] = v
	return nil
}

// parseTagHeader parses x-amz-tagging: URL-encoded query parameters.
func parseTagHeader(v string) (map[string]string, error) {
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, s3err("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	}
	tags := make(map[string]string, len(q))
	for k, vals := range q {
		if len(vals) > 1 {
			return nil, invalidTag("Cannot provide multiple Tags with the same key")
		}
		if err := addTag(tags, k, vals[0], maxObjectTags); err != nil {
			return nil, err
		}
	}
	return tags, nil
}

// readTagging reads and checks a Tagging document.
func (h *Handler) readTagging(r *http.Request, rq *request, limit int) (map[string]string, error) {
	body, err := h.readSmall(r, rq, 64<<10)
	if err != nil {
		return nil, err
	}
	var doc taggingDoc
	if err := decodeXML(body, &doc); err != nil {
		return nil, err
	}
	tags := make(map[string]string, len(doc.TagSet.Tags))
	for _, t := range doc.TagSet.Tags {
		if err := addTag(tags, t.Key, t.Value, limit); err != nil {
			return nil, err
		}
	}
	return tags, nil
}

// writeTagging answers tags as a Tagging document, in key order.
func writeTagging(w http.ResponseWriter, tags map[string]string) {
	doc := taggingDoc{Xmlns: xmlns}
	for k, v := range tags {
		doc.TagSet.Tags = append(doc.TagSet.Tags, tagEntry{Key: k, Value: v})
	}
	slices.SortFunc(doc.TagSet.Tags, func(a, b tagEntry) int { return strings.Compare(a.Key, b.Key) })
	writeXML(w, http.StatusOK, doc)
}

func getObjectTagging(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	vid := rq.query.Get("versionId")
	info, err := h.d.Store.HeadVersion(r.Context(), rq.bucket, rq.key, vid)
	if err != nil {
		return markerAnswer(w, err)
	}
	if info.VersionID != "" || vid != "" {
		w.Header().Set("X-Amz-Version-Id", versionName(info.VersionID))
	}
	writeTagging(w, info.Tags)
	return nil
}

func putObjectTagging(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	tags, err := h.readTagging(r, rq, maxObjectTags)
	if err != nil {
		return err
	}
	if err := h.d.Store.PutVersionTags(r.Context(), rq.bucket, rq.key, rq.query.Get("versionId"), tags); err != nil {
		return markerAnswer(w, err)
	}
	if vid := rq.query.Get("versionId"); vid != "" {
		w.Header().Set("X-Amz-Version-Id", vid)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func deleteObjectTagging(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.d.Store.PutVersionTags(r.Context(), rq.bucket, rq.key, rq.query.Get("versionId"), nil); err != nil {
		return markerAnswer(w, err)
	}
	if vid := rq.query.Get("versionId"); vid != "" {
		w.Header().Set("X-Amz-Version-Id", vid)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func getBucketTagging(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	tags, err := h.d.Store.BucketTags(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		e := s3err("NoSuchTagSet", "")
		e.Bucket = rq.bucket
		return e
	}
	writeTagging(w, tags)
	return nil
}

func putBucketTagging(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	tags, err := h.readTagging(r, rq, maxBucketTags)
	if err != nil {
		return err
	}
	if err := h.d.Store.PutBucketTags(r.Context(), rq.bucket, tags); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func deleteBucketTagging(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.d.Store.PutBucketTags(r.Context(), rq.bucket, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// copyTags settles the tags of a copy by x-amz-tagging-directive: the
// source's (COPY, the default) or the request's x-amz-tagging (REPLACE).
func copyTags(r *http.Request, src objstore.ObjectInfo) (map[string]string, error) {
	if r.Header.Get("X-Amz-Tagging-Directive") != "REPLACE" {
		return src.Tags, nil
	}
	v := r.Header.Get("X-Amz-Tagging")
	if v == "" {
		return nil, nil
	}
	return parseTagHeader(v)
}
