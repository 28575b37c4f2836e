/* Corpus driver for expat (rows 1 and 2 of the corpus).
 *
 * normal: a document with an internal DTD is parsed with XML_GetBuffer +
 *   XML_ParseBuffer (the function CVE-2024-45490 fixes); the element
 *   declarations go through the scaffold code (nextScaffoldPart,
 *   CVE-2024-45492).  Known answer: 4 start tags, 10 bytes of text, 3
 *   element declarations, the model of <r> a sequence of 2 children.
 * probe (unless -n): XML_ParseBuffer(parser, -1, 0) on a fresh parser.
 *   old: accepted (XML_STATUS_OK);  new: XML_STATUS_ERROR with
 *   XML_ERROR_INVALID_ARGUMENT (CVE-2024-45490's fix).
 * usage: expat-driver [-t N] [-p US] [-s SECS] [-n]   (-n: no probe)
 */
#include "corpus.h"
#include <expat.h>

static int opt_probe = 1;

static const char doc[] =
	"<?xml version=\"1.0\"?>\n"
	"<!DOCTYPE r [\n"
	"  <!ELEMENT r (a,b*)>\n"
	"  <!ELEMENT a EMPTY>\n"
	"  <!ELEMENT b (#PCDATA)>\n"
	"]>\n"
	"<r><a/><b>hello</b><b>world</b></r>\n";

struct counts {
	XML_Parser p;
	int starts, chars, decls, r_ok;
};

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	(void)name;
	(void)atts;
	((struct counts *)ud)->starts++;
}

static void XMLCALL on_chars(void *ud, const XML_Char *s, int len)
{
	struct counts *c = ud;
	int i;

	for (i = 0; i < len; i++)
		if (s[i] != '\n')
			c->chars++;
}

static void XMLCALL on_decl(void *ud, const XML_Char *name, XML_Content *model)
{
	struct counts *c = ud;

	c->decls++;
	if (strcmp(name, "r") == 0 && model->type == XML_CTYPE_SEQ &&
	    model->numchildren == 2 && strcmp(model->children[0].name, "a") == 0 &&
	    strcmp(model->children[1].name, "b") == 0 &&
	    model->children[1].quant == XML_CQUANT_REP)
		c->r_ok = 1;
	XML_FreeContentModel(c->p, model);
}

static void normal(void)
{
	struct counts c;
	XML_Parser p = XML_ParserCreate(NULL);
	void *buf;
	int len = (int)strlen(doc);
	enum XML_Status st;

	if (!p) {
		record(OUT_BAD);
		return;
	}
	memset(&c, 0, sizeof c);
	c.p = p;
	XML_SetUserData(p, &c);
	XML_SetStartElementHandler(p, on_start);
	XML_SetCharacterDataHandler(p, on_chars);
	XML_SetElementDeclHandler(p, on_decl);
	buf = XML_GetBuffer(p, len);
	if (!buf) {
		XML_ParserFree(p);
		record(OUT_BAD);
		return;
	}
	memcpy(buf, doc, len);
	st = XML_ParseBuffer(p, len, 1);
	if (st == XML_STATUS_OK && c.starts == 4 && c.chars == 10 && c.decls == 3 && c.r_ok) {
		record(OUT_OK);
	} else {
		record(OUT_BAD);
		note("normal: status=%d error=%d starts=%d chars=%d decls=%d r_ok=%d", (int)st,
		     (int)XML_GetErrorCode(p), c.starts, c.chars, c.decls, c.r_ok);
	}
	XML_ParserFree(p);
}

static void probe(void)
{
	XML_Parser p = XML_ParserCreate(NULL);
	enum XML_Status st;
	enum XML_Error err;

	if (!p || !XML_GetBuffer(p, 64)) {
		if (p)
			XML_ParserFree(p);
		record(OUT_OTHER);
		note("probe: no parser/buffer");
		return;
	}
	st = XML_ParseBuffer(p, -1, 0);
	err = XML_GetErrorCode(p);
	if (st == XML_STATUS_ERROR && err == XML_ERROR_INVALID_ARGUMENT)
		record(OUT_NEW);
	else if (st == XML_STATUS_OK)
		record(OUT_OLD);
	else {
		record(OUT_OTHER);
		note("probe: status=%d error=%d", (int)st, (int)err);
	}
	XML_ParserFree(p);
}

static void work(int tid, long iter)
{
	(void)tid;
	(void)iter;
	normal();
	if (opt_probe)
		probe();
}

int main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-n") == 0) {
			opt_probe = 0;
			argv[i] = "--";	/* getopt stops there */
		}
	driver_options(argc, argv);
	run_workers();
	return 0;
}
