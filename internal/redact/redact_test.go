package redact

import "testing"

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://download.pytorch.org/whl/cu128":         "https://download.pytorch.org/whl/cu128",
		"https://user:s3cret@pypi.example/simple":        "https://***@pypi.example/simple",
		"https://tok@pypi.example":                       "https://***@pypi.example",
		"https://pypi.example/simple?token=abc&x=1#frag": "https://pypi.example/simple?token=***&x=***#frag",
		"https://pypi.example/simple?abc":                "https://pypi.example/simple?***",
		"https://u:p@h.example/a@b?sig=x":                "https://***@h.example/a@b?sig=***",
		"not a url":                                      "not a url",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	in := `pip: GET "https://u:pw@idx.example/simple/torch/" failed; see http://h.example/?api_key=K1`
	want := `pip: GET "https://***@idx.example/simple/torch/" failed; see http://h.example/?api_key=***`
	if got := Text(in); got != want {
		t.Errorf("Text:\n got %s\nwant %s", got, want)
	}
}

func TestCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:pw@idx.example/simple":             "user:password@",
		"see https://idx.example/simple?Token=abc":    "the query parameter Token=",
		"https://s3.example/w.whl?X-Amz-Signature=ab": "the query parameter X-Amz-Signature=",
		"https://idx.example/simple?page=2":           "",
		"https://idx.example/a@b":                     "",
		"plain text, no URL":                          "",
	} {
		red, what, ok := Credentials(in)
		if what != want || ok != (want != "") {
			t.Errorf("Credentials(%q) = %q, %q, %v; want %q", in, red, what, ok, want)
		}
		if ok && (red == in || len(red) == 0) {
			t.Errorf("Credentials(%q) gave the URL unredacted: %q", in, red)
		}
	}
}
