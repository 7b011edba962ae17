package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// Media types of request bodies.
const (
	mediaJSON   = "application/json"
	mediaNDJSON = "application/x-ndjson"
	mediaMerge  = "application/merge-patch+json"
)

// readBody reads a request body of at most limit bytes whose media type is
// JSON (application/json or any application/*+json) or, when ndjson is
// set, NDJSON. It returns the body and its media type, or answers the
// request itself (413, 415, 400) and returns ok=false.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, ndjson bool) (body []byte, media string, ok bool) {
	if r.ContentLength > limit {
		tooLarge(w, r, limit)
		return nil, "", false
	}
	size := r.ContentLength
	if size < 0 || size > limit {
		size = 512
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		tooLarge(w, r, limit)
		return nil, "", false
	} else if err != nil {
		writeProblem(w, r, http.StatusBadRequest, "unreadable_body", "The body could not be read: "+err.Error(), nil)
		return nil, "", false
	}
	body = buf.Bytes()
	if len(body) == 0 {
		return body, "", true
	}
	media = mediaType(r.Header.Get("Content-Type"))
	switch {
	case media == mediaJSON, strings.HasPrefix(media, "application/") && strings.HasSuffix(media, "+json"):
	case ndjson && media == mediaNDJSON:
	default:
		want := "application/json"
		if ndjson {
			want += " or application/x-ndjson"
		}
		got := r.Header.Get("Content-Type")
		if got == "" {
			got = "none"
		}
		writeProblem(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("The body must be %s (Content-Type: %s).", want, got), nil)
		return nil, "", false
	}
	return body, media, true
}

// mediaType returns the media type of a Content-Type header, lower case,
// without parameters.
func mediaType(ct string) string {
	if ct == mediaJSON {
		return ct // the common case, without parsing
	}
	m, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return m
}

func tooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	writeProblem(w, r, http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("The body is larger than %d bytes.", limit), nil)
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
