# A long-running busybox awk for the busybox corpus case (13): reads
# requests "ID A B WORD" from the FIFO IN and appends one answer line per
# request to OUT.  Each time the writer closes the FIFO it is reopened.
# The expressions are written so that they mean the same with or without
# the CVE-2023-42364 part-2 fix (which changes the precedence of assignment
# against ?: while parsing: "x = c ? a : b" is parsed as "(x = c) ? a : b"
# before it), so the answers are the same for both builds.
#   busybox awk -v IN=fifo -v OUT=file -f awkserve.awk
BEGIN {
	while (1) {
		while ((getline line < IN) > 0) {
			n = split(line, f, " ")
			id = f[1]; a = f[2] + 0; b = f[3] + 0; w = f[4]
			cmp = (a > b ? "gt" : "le")
			cnt[w]++
			up = toupper(w)
			m = ((w ~ /^[a-z]+[0-9]$/) ? "match" : "nomatch")
			printf "%s n=%d sum=%d prod=%d cmp=%s hex=%x sub=%s up=%s %s seen=%d\n", id, n, a + b, a * b, cmp, a * 16 + b, substr(w, 2, 3), up, m, cnt[w] >> OUT
			fflush(OUT)
		}
		close(IN)
	}
}
