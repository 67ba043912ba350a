package s3api

import (
	"errors"
	"net/http"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// Error is an S3 error response: the code, message and status S3 uses, and
// the bucket or key it concerns.
type Error struct {
	Code    string
	Message string
	Status  int
	Bucket  string
	Key     string
	Header  string // of NotImplemented: the header refused
	Err     error  // the cause, for logs
}

// Error returns the code and message.
func (e *Error) Error() string {
	if e.Err != nil {
		return "s3: " + e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return "s3: " + e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errorStatus holds S3's status and standard message for the codes this
// package returns.
var errorStatus = map[string]struct {
	status int
	msg    string
}{
	"AccessDenied":                                   {403, "Access Denied"},
	"AccessControlListNotSupported":                  {400, "The bucket does not allow ACLs"},
	"ConditionalRequestConflict":                     {409, "A conflicting conditional operation is currently in progress against this resource. Please try again."},
	"InvalidTag":                                     {400, "The tag provided was not a valid tag."},
	"InvalidStorageClass":                            {400, "The storage class you specified is not valid"},
	"NoSuchCORSConfiguration":                        {404, "The CORS configuration does not exist"},
	"NoSuchLifecycleConfiguration":                   {404, "The lifecycle configuration does not exist"},
	"NoSuchPublicAccessBlockConfiguration":           {404, "The public access block configuration was not found"},
	"NoSuchTagSet":                                   {404, "The TagSet does not exist"},
	"NoSuchWebsiteConfiguration":                     {404, "The specified bucket does not have a website configuration"},
	"ObjectLockConfigurationNotFoundError":           {404, "Object Lock configuration does not exist for this bucket"},
	"ReplicationConfigurationNotFoundError":          {404, "The replication configuration was not found"},
	"ServerSideEncryptionConfigurationNotFoundError": {404, "The server side encryption configuration was not found"},
	"AuthorizationHeaderMalformed":                   {400, "The authorization header is malformed."},
	"AuthorizationQueryParametersError":              {400, "Error parsing the X-Amz-Credential parameter."},
	"BadDigest":                                      {400, "The Content-MD5 you specified did not match what we received."},
	"BucketAlreadyOwnedByYou":                        {409, "Your previous request to create the named bucket succeeded and you already own it."},
	"BucketNotEmpty":                                 {409, "The bucket you tried to delete is not empty"},
	"EntityTooLarge":                                 {400, "Your proposed upload exceeds the maximum allowed size"},
	"EntityTooSmall":                                 {400, "Your proposed upload is smaller than the minimum allowed object size."},
	"IncompleteBody":                                 {400, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	"InternalError":                                  {500, "We encountered an internal error. Please try again."},
	"InvalidAccessKeyId":                             {403, "The AWS Access Key Id you provided does not exist in our records."},
	"MalformedPolicy":                                {400, "Policies must be valid JSON."},
	"NoSuchBucketPolicy":                             {404, "The bucket policy does not exist"},
	"PolicyTooLarge":                                 {400, "Policies cannot exceed 20 KB in size"},
	"InvalidArgument":                                {400, "Invalid Argument"},
	"InvalidBucketName":                              {400, "The specified bucket is not valid."},
	"InvalidDigest":                                  {400, "The Content-MD5 you specified was invalid."},
	"InvalidLocationConstraint":                      {400, "The specified location-constraint is not valid"},
	"InvalidPart":                                    {400, "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."},
	"InvalidPartNumber":                              {416, "The requested partnumber is not satisfiable"},
	"InvalidPartOrder":                               {400, "The list of parts was not in ascending order. Parts must be ordered by part number."},
	"InvalidRange":                                   {416, "The requested range is not satisfiable"},
	"InvalidRequest":                                 {400, "Invalid Request"},
	"InvalidURI":                                     {400, "Couldn't parse the specified URI."},
	"KeyTooLongError":                                {400, "Your key is too long"},
	"MalformedXML":                                   {400, "The XML you provided was not well-formed or did not validate against our published schema"},
	"MaxMessageLengthExceeded":                       {400, "Your request was too big."},
	"MetadataTooLarge":                               {400, "Your metadata headers exceed the maximum allowed metadata size."},
	"MethodNotAllowed":                               {405, "The specified method is not allowed against this resource."},
	"InvalidBucketState":                             {409, "The request is not valid with the current state of the bucket."},
	"NoSuchObjectLockConfiguration":                  {404, "The specified object does not have a ObjectLock configuration"},
	"NoSuchVersion":                                  {404, "The specified version does not exist."},
	"IllegalVersioningConfigurationException":        {400, "The versioning configuration specified in the request is invalid."},
	"MissingContentLength":                           {411, "You must provide the Content-Length HTTP header."},
	"NoSuchBucket":                                   {404, "The specified bucket does not exist"},
	"NoSuchKey":                                      {404, "The specified key does not exist."},
	"NoSuchUpload":                                   {404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."},
	"NotImplemented":                                 {501, "A header you provided implies functionality that is not implemented"},
	"PreconditionFailed":                             {412, "At least one of the pre-conditions you specified did not hold"},
	"RequestTimeTooSkewed":                           {403, "The difference between the request time and the current time is too large."},
	"SignatureDoesNotMatch":                          {403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	"XAmzContentSHA256Mismatch":                      {400, "The provided 'x-amz-content-sha256' header does not match what was computed."},
}

// s3err returns the error for code with S3's status, and msg or else S3's
// standard message.
func s3err(code, msg string) *Error {
	st, ok := errorStatus[code]
	if !ok {
		st.status = http.StatusBadRequest
	}
	if msg == "" {
		msg = st.msg
	}
	return &Error{Code: code, Message: msg, Status: st.status}
}

// toError turns any error from the store, the verifier or the body into
// the S3 error a client gets. Unknown errors are InternalError.
func toError(err error, bucket, key string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if e := sseError(err); e != nil {
		return e
	}
	if fault.KindOf(err) == fault.Unavailable {
		// The cluster cannot take writes now (it is electing a leader, or
		// this node is cut off from most of it): S3's answer to try again.
		return &Error{Code: "ServiceUnavailable", Message: "The cluster cannot take writes now; please try again.", Status: http.StatusServiceUnavailable, Err: err}
	}
	var svc *objstore.ServiceError
	if errors.As(err, &svc) {
		return &Error{Code: svc.Code, Message: svc.Message, Status: svc.Status, Err: err}
	}
	var pe *sigv4.PayloadError
	if errors.As(err, &pe) {
		return &Error{Code: pe.Code, Message: pe.Message, Status: pe.Status, Err: err}
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		e := s3err(se.AWSCode("s3"), "")
		if se.Kind != sigv4.Missing { // S3 says "Access Denied" to anonymous requests
			e.Message = se.Message
		}
		e.Err = err
		return e
	}
	table := []struct {
		target error
		code   string
		withB  bool
		withK  bool
	}{
		{objstore.ErrNoSuchBucket, "NoSuchBucket", true, false},
		{objstore.ErrNoSuchKey, "NoSuchKey", false, true},
		{objstore.ErrNoSuchVersion, "NoSuchVersion", false, true},
		{objstore.ErrIsDeleteMarker, "MethodNotAllowed", false, false},
		{objstore.ErrInvalidVersion, "InvalidArgument", false, false},
		{objstore.ErrLocked, "AccessDenied", false, false},
		{objstore.ErrNoObjectLock, "InvalidRequest", false, false},
		{objstore.ErrNeedsVersioning, "InvalidBucketState", false, false},
		{objstore.ErrPreconditionFailed, "PreconditionFailed", false, false},
		{objstore.ErrBucketExists, "BucketAlreadyOwnedByYou", true, false},
		{objstore.ErrBucketNotEmpty, "BucketNotEmpty", true, false},
		{objstore.ErrInvalidBucket, "InvalidBucketName", true, false},
		{objstore.ErrInvalidKey, "InvalidURI", false, false},
		{objstore.ErrKeyTooLong, "KeyTooLongError", false, false},
		{objstore.ErrTooLarge, "EntityTooLarge", false, false},
		{objstore.ErrBadDigest, "BadDigest", false, false},
		{objstore.ErrNoSuchUpload, "NoSuchUpload", false, false},
		{objstore.ErrInvalidPart, "InvalidPart", false, false},
		{objstore.ErrInvalidPartOrder, "InvalidPartOrder", false, false},
		{objstore.ErrTooSmall, "EntityTooSmall", false, false},
		{objstore.ErrNoParts, "MalformedXML", false, false},
		{objstore.ErrInvalidPartNumber, "InvalidArgument", false, false},
	}
	for _, t := range table {
		if errors.Is(err, t.target) {
			e := s3err(t.code, "")
			switch t.target {
			case objstore.ErrInvalidPartNumber:
				e.Message = "Part number must be an integer between 1 and 10000, inclusive"
			case objstore.ErrInvalidVersion:
				e.Message = "Invalid version id specified"
			case objstore.ErrLocked:
				e.Message = "Access Denied because object protected by object lock."
			case objstore.ErrNoObjectLock:
				e.Message = "Bucket is missing Object Lock Configuration"
			case objstore.ErrNeedsVersioning:
				e.Message = "Object Lock needs versioning Enabled on the bucket, and keeps it so."
			}
			if t.withB {
				e.Bucket = bucket
			}
			if t.withK {
				e.Key = key
			}
			e.Err = err
			return e
		}
	}
	e = s3err("InternalError", "")
	e.Err = err
	return e
}

// writeError writes e: the XML document, or for HEAD the status alone.
func writeError(w http.ResponseWriter, r *http.Request, rq *request, e *Error) {
	h := w.Header()
	if e.Code == "InvalidRange" && rq.objectSize >= 0 {
		h.Set("Content-Range", "bytes */"+itoa(rq.objectSize))
	}
	if e.Status == http.StatusNotModified {
		w.WriteHeader(e.Status)
		return
	}
	fields := make([]awsproto.Field, 0, 4)
	if e.Header != "" {
		fields = append(fields, awsproto.Field{Name: "Header", Value: e.Header})
	}
	if e.Bucket != "" {
		fields = append(fields, awsproto.Field{Name: "BucketName", Value: e.Bucket})
	}
	if e.Key != "" {
		fields = append(fields, awsproto.Field{Name: "Key", Value: e.Key})
	}
	fields = append(fields, awsproto.Field{Name: "HostId", Value: rq.hostID})
	awsproto.WriteError(w, r, awsproto.RESTXML,
		&awsproto.Error{Status: e.Status, Code: e.Code, Message: e.Message, Fields: fields}, rq.id)
}
