#!/bin/sh
# Prepare a directory in which CUPS' ipptool conformance suites can run against Folio.
#
# Usage: scripts/make-conformance-dir.sh DIR
#
# DIR receives:
#   - copies of ipp-1.1.test, ipp-2.0.test and ipp-everywhere.test (from $IPPTOOL_SUITES_DIR,
#     default /usr/share/cups/ipptool, Debian package cups-ipp-utils);
#   - ipp-everywhere-fixed.test: ipp-everywhere.test with the upstream typo fixed (its
#     overrides-supported expectation names "document-number"; the PWG keyword is
#     "document-numbers", so a correct printer always fails the unfixed copy);
#   - the sample documents the suites name, generated here with Ghostscript (CUPS' originals are
#     not copied): document-letter.pdf and document-a4.pdf (3 pages, one with colour),
#     document-letter.ps and document-a4.ps, onepage-letter.pdf, onepage-a4.pdf, testfile.pdf,
#     color.jpg, gray.jpg, testfile.jpg;
#   - every pwg-raster-samples-*dpi/<type>/<doc>-<type>-<res>dpi.pwg file ipp-everywhere.test
#     names. ipptool aborts a whole file when any FILE it names is unreadable, so every one must
#     exist: the resolution/type pairs in $PWG_REAL (default: 300 and 600 dpi, black-1, sgray-8
#     and srgb-8) are real PWG raster rendered by Ghostscript's pwgraster device; the others are
#     empty placeholders (their tests are skipped unless the printer advertises that resolution
#     and type, see the HAVE_* variables in ipp-everywhere.test).
#
# Needs: gs (package ghostscript), the suites above. Takes about a minute on two cores.
set -eu

D=${1:?usage: make-conformance-dir.sh DIR}
SUITES_DIR=${IPPTOOL_SUITES_DIR:-/usr/share/cups/ipptool}
PWG_REAL=${PWG_REAL:-"300:black-1 300:sgray-8 300:srgb-8 600:black-1 600:sgray-8 600:srgb-8"}

command -v gs >/dev/null 2>&1 || { echo "make-conformance-dir: gs not found (install ghostscript; scripts/test.sh does)" >&2; exit 1; }
for s in ipp-1.1.test ipp-2.0.test ipp-everywhere.test; do
  [ -r "$SUITES_DIR/$s" ] || { echo "make-conformance-dir: $SUITES_DIR/$s missing (install cups-ipp-utils; scripts/test.sh does)" >&2; exit 1; }
done

mkdir -p "$D"
D=$(cd "$D" && pwd)
cd "$D"
GEN=$(mktemp -d)
trap 'rm -rf "$GEN"' EXIT

# --- the suites -------------------------------------------------------------------------------
cp "$SUITES_DIR/ipp-1.1.test" "$SUITES_DIR/ipp-2.0.test" "$SUITES_DIR/ipp-everywhere.test" .
sed '/overrides-supported/s/"document-number"/"document-numbers"/' ipp-everywhere.test > ipp-everywhere-fixed.test
n=$(grep -c 'overrides-supported.*"document-numbers"' ipp-everywhere-fixed.test || true)
if [ "$n" != 1 ] || [ "$(diff ipp-everywhere.test ipp-everywhere-fixed.test | grep -c '^>')" != 1 ]; then
  echo "make-conformance-dir: the document-number(s) fix did not change exactly one line of ipp-everywhere.test" >&2
  exit 1
fi

# --- sample documents -------------------------------------------------------------------------
# A text document: parameters W H (points), PAGES, TITLE, COLOR (colour boxes on page 2).
cat > "$GEN/doc.ps" <<'EOF'
%!PS
<< /PageSize [W H] >> setpagedevice
/num { 10 string cvs show } def
1 1 PAGES {
  /p exch def
  0.5 setlinewidth 0 setgray
  36 36 W 72 sub H 72 sub rectstroke
  /Helvetica-Bold findfont 22 scalefont setfont
  72 H 108 sub moveto TITLE show
  /Helvetica findfont 12 scalefont setfont
  72 H 132 sub moveto (Folio conformance sample, page ) show p num ( of ) show PAGES num
  0 1 19 {
    /i exch def
    72 H 170 sub i 16 mul sub moveto
    (Line ) show i 1 add num (: The quick brown fox jumps over the lazy dog. 0123456789) show
  } for
  0 1 9 { /i exch def i 10 div setgray 72 i 40 mul add 100 36 36 rectfill } for
  COLOR p 2 eq and {
    1 0 0 setrgbcolor 72 160 100 60 rectfill
    0 0.6 0 setrgbcolor 192 160 100 60 rectfill
    0 0 1 setrgbcolor 312 160 100 60 rectfill
  } if
  showpage
} for
EOF

# A photo-like picture: hue across, brightness down, a title. Parameters W H (points), TITLE.
cat > "$GEN/image.ps" <<'EOF'
%!PS
<< /PageSize [W H] >> setpagedevice
/nx 48 def /ny 32 def
/cw W nx div def /ch H ny div def
0 1 nx 1 sub {
  /x exch def
  0 1 ny 1 sub {
    /y exch def
    x nx div 0.3 y ny div 0.7 mul add 1 sethsbcolor
    x cw mul y ch mul cw ch rectfill
  } for
} for
0 setgray
/Helvetica-Bold findfont H 12 div scalefont setfont
W 20 div H 2 div moveto TITLE show
showpage
EOF

# Ghostscript, with its progress chatter (INFO: lines) kept out of the output.
gs_run() {
  if ! gs -q -dSAFER -dBATCH -dNOPAUSE "$@" > "$GEN/gs.log" 2>&1; then
    cat "$GEN/gs.log" >&2
    echo "make-conformance-dir: gs $* failed" >&2
    exit 1
  fi
  grep -v '^INFO' "$GEN/gs.log" >&2 || true
}
doc() { # out device W H PAGES TITLE COLOR
  gs_run -sDEVICE="$2" -o "$1" -dW="$3" -dH="$4" -dPAGES="$5" -sTITLE="$6" -dCOLOR="$7" "$GEN/doc.ps"
}
img() { # out device W H TITLE
  gs_run -sDEVICE="$2" -r100 -dJPEGQ=85 -o "$1" -dW="$3" -dH="$4" -sTITLE="$5" "$GEN/image.ps"
}
doc document-letter.pdf pdfwrite 612 792 3 "US Letter Test Document" true
doc document-a4.pdf     pdfwrite 595 842 3 "A4 Test Document" true
doc document-letter.ps  ps2write 612 792 3 "US Letter Test Document" true
doc document-a4.ps      ps2write 595 842 3 "A4 Test Document" true
doc onepage-letter.pdf  pdfwrite 612 792 1 "One Page US Letter" false
doc onepage-a4.pdf      pdfwrite 595 842 1 "One Page A4" false
doc testfile.pdf        pdfwrite 612 792 1 "Folio Test File" false
img color.jpg    jpeg     432 288 "Colour"
img gray.jpg     jpeggray 432 288 "Gray"
img testfile.jpg jpeg     288 432 "Test"

for f in document-letter.pdf document-a4.pdf onepage-letter.pdf onepage-a4.pdf testfile.pdf; do
  [ "$(head -c 5 "$f")" = "%PDF-" ] || { echo "make-conformance-dir: $f is not a PDF" >&2; exit 1; }
done

# --- PWG raster samples (names taken from ipp-everywhere.test) ---------------------------------
grep -oE 'FILE pwg-raster-samples[^ ]*' ipp-everywhere.test | sed 's/^FILE //' | sort -u > "$GEN/pwg-list"
[ -s "$GEN/pwg-list" ] || { echo "make-conformance-dir: no pwg-raster-samples names in ipp-everywhere.test" >&2; exit 1; }
while read -r f; do
  mkdir -p "$(dirname "$f")"
  base=$(basename "$f" .pwg)                # e.g. document-letter-sgray-8-300dpi
  res=$(echo "$base" | sed -E 's/.*-([0-9]+)dpi$/\1/')
  type=$(echo "$base" | sed -E 's/.*-(black-1|cmyk-8|sgray-8|srgb-8|srgb-16)-[0-9]+dpi$/\1/')
  src=$(echo "$base" | sed -E "s/-$type-${res}dpi\$//")   # document-letter, color.jpg-4x6, ...
  case " $PWG_REAL " in
    *" $res:$type "*) ;;
    *) : > "$f"; continue ;;
  esac
  case $type in
    black-1) cs=3;  bpc=1 ;;
    sgray-8) cs=18; bpc=8 ;;
    srgb-8)  cs=19; bpc=8 ;;
    srgb-16) cs=19; bpc=16 ;;
    cmyk-8)  cs=6;  bpc=8 ;;
    *) echo "make-conformance-dir: unknown raster type in $f" >&2; exit 1 ;;
  esac
  set -- -sDEVICE=pwgraster -r"$res" -dcupsColorSpace=$cs -dcupsBitsPerColor=$bpc -o "$f"
  case $src in
    *.jpg-4x6)
      jpg=${src%-4x6}
      gs_run "$@" -dFIXEDMEDIA -dDEVICEWIDTHPOINTS=288 -dDEVICEHEIGHTPOINTS=432 --permit-file-read="$D/" viewjpeg.ps \
        -c "($D/$jpg) viewJPEGgetsize /h exch def /w exch def 288 w div 432 h div 2 copy gt {exch} if pop dup scale ($D/$jpg) viewJPEG showpage" ;;
    *)
      gs_run "$@" "$src.pdf" ;;
  esac
  [ -s "$f" ] || { echo "make-conformance-dir: Ghostscript made no data for $f" >&2; exit 1; }
done < "$GEN/pwg-list"

echo "make-conformance-dir: ready in $D ($(wc -l < "$GEN/pwg-list") PWG raster names)"
