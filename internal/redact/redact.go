// Package redact hides credentials in URLs, for every message, log line and report that prints
// one: the userinfo (user:password@) and every query value become ***.
package redact

import (
	"regexp"
	"strings"
)

// Mask replaces what is hidden.
const Mask = "***"

// urlRE finds URLs in text: a scheme, ://, and everything up to a space or a quote.
var urlRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// secretParam is a query parameter name that holds a credential (token=, api_key=, X-Amz-Signature=,
// sig=, password=, auth=, …).
var secretParam = regexp.MustCompile(`(?i)token|key|secret|pass|pwd|auth|sig|credential|session`)

// URL returns u with its userinfo and query values replaced by ***:
// https://user:pw@host/simple?token=abc → https://***@host/simple?token=***. Text that is not a URL
// with a scheme comes back unchanged.
func URL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || scheme == "" {
		return u
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = Mask + rest[at:]
	}
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return scheme + "://" + rest
	}
	query, frag := rest[q+1:], ""
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query, frag = query[:h], query[h:]
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok {
			parts[i] = k + "=" + Mask
		} else if p != "" {
			parts[i] = Mask
		}
	}
	return scheme + "://" + rest[:q+1] + strings.Join(parts, "&") + frag
}

// Text redacts every URL in s.
func Text(s string) string {
	return urlRE.ReplaceAllStringFunc(s, URL)
}

// Credentials finds the first URL in s that carries a credential: userinfo, or a query
// parameter named like one (token, key, secret, password, auth, sig, …). It returns that URL
// redacted and what it carries ("user:password@", "the query parameter token="); ok is false
// when s has none.
func Credentials(s string) (redacted, what string, ok bool) {
	for _, u := range urlRE.FindAllString(s, -1) {
		_, rest, _ := strings.Cut(u, "://")
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if strings.Contains(rest[:end], "@") {
			return URL(u), "user:password@", true
		}
		q := strings.IndexByte(rest, '?')
		if q < 0 {
			continue
		}
		query, _, _ := strings.Cut(rest[q+1:], "#")
		for _, p := range strings.Split(query, "&") {
			k, _, _ := strings.Cut(p, "=")
			if secretParam.MatchString(k) {
				return URL(u), "the query parameter " + k + "=", true
			}
		}
	}
	return "", "", false
}
