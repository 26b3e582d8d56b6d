/*
 * ctg_exchange._native: the pseudonymised columns of plain CSV lines, rewritten in C (issue 17).
 *
 * What it computes is exactly ctg_exchange.exchange.hashed_rows.PlainRows._rewrite for lines
 * that PlainRows._plain accepted (no quote, no NUL, every line with the header's number of
 * fields, one kind of line end): each non-empty field of a pseudonymised column becomes the
 * lower-case hex HMAC-SHA-256 (RFC 2104) of its bytes under the key; everything else is
 * copied. The SHA-256 is OpenSSL's (libcrypto), never a hand-written one: this file only saves
 * the Python calls around it, which cost ten times the two compressions a value takes.
 * The test suite checks it against hmac.digest and against the Python path, byte for byte.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_API_COMPAT 10101 /* SHA256_CTX: a state copied by value, no allocation */
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#define HEX_SIZE (2 * SHA256_DIGEST_LENGTH)

static const char HEX[] = "0123456789abcdef";

typedef struct {
    SHA256_CTX inner; /* after the key XOR ipad */
    SHA256_CTX outer; /* after the key XOR opad */
} Keyed;

static void keyed_init(Keyed *keyed, const unsigned char *key, Py_ssize_t size)
{
    unsigned char block[SHA256_CBLOCK] = {0};
    unsigned char pad[SHA256_CBLOCK];
    if (size > SHA256_CBLOCK) {
        SHA256(key, (size_t)size, block);
    } else {
        memcpy(block, key, (size_t)size);
    }
    for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&keyed->inner);
    SHA256_Update(&keyed->inner, pad, SHA256_CBLOCK);
    for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&keyed->outer);
    SHA256_Update(&keyed->outer, pad, SHA256_CBLOCK);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
}

/* Windows-1252's bytes 0x80-0x9F as Unicode (0: undefined); from 0xA0 a byte is its own code
 * point. A value of a Windows-1252 file is hashed as UTF-8, as the Python path does. */
static const unsigned short CP1252_HIGH[32] = {
    0x20AC, 0x0000, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x0000, 0x017D, 0x0000, 0x0000, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x0000, 0x017E, 0x0178,
};

/* A Windows-1252 value as UTF-8 into `out` (room: 3 bytes a byte); its length, or -1 for a
 * byte Windows-1252 leaves undefined. */
static Py_ssize_t cp1252_to_utf8(const unsigned char *value, size_t size, unsigned char *out)
{
    unsigned char *write = out;
    for (size_t i = 0; i < size; i++) {
        unsigned int c = value[i];
        if (c >= 0x80 && c < 0xA0 && (c = CP1252_HIGH[c - 0x80]) == 0) return -1;
        if (c < 0x80) {
            *write++ = (unsigned char)c;
        } else if (c < 0x800) {
            *write++ = (unsigned char)(0xC0 | (c >> 6));
            *write++ = (unsigned char)(0x80 | (c & 0x3F));
        } else {
            *write++ = (unsigned char)(0xE0 | (c >> 12));
            *write++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            *write++ = (unsigned char)(0x80 | (c & 0x3F));
        }
    }
    return write - out;
}

static void keyed_hex(const Keyed *keyed, const char *value, size_t size, char *out)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx = keyed->inner;
    SHA256_Update(&ctx, value, size);
    SHA256_Final(digest, &ctx);
    ctx = keyed->outer;
    SHA256_Update(&ctx, digest, SHA256_DIGEST_LENGTH);
    SHA256_Final(digest, &ctx);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = HEX[digest[i] >> 4];
        out[2 * i + 1] = HEX[digest[i] & 15];
    }
}

/* Rewrites data[0:size] into out (room checked by the caller); returns the bytes written, or
 * -1 if a line does not have `columns` fields (the caller then leaves the block to Python). */
static Py_ssize_t rewrite(const Keyed *keyed, const char *data, Py_ssize_t size, int columns,
                          const unsigned char *hashed, char delimiter, int crlf, char *out,
                          Py_ssize_t room, unsigned char *utf8)
{
    const char *pos = data, *stop = data + size;
    char *write = out, *limit = out + room;
    int column = 0;
    while (pos < stop) {
        const char *field = pos;
        while (pos < stop && *pos != delimiter && *pos != '\n' && *pos != '\r') pos++;
        size_t length = (size_t)(pos - field);
        if (!length && columns == 1) return -1; /* an empty line: no field, the csv module's */
        /* never past the room the caller made (it counted for the worst case: a safeguard) */
        if ((size_t)(limit - write) < (hashed[column] ? HEX_SIZE : length) + 2) return -2;
        if (hashed[column] && length && utf8 != NULL) { /* a Windows-1252 file's value */
            Py_ssize_t converted = cp1252_to_utf8((const unsigned char *)field, length, utf8);
            if (converted < 0) return -1;
            keyed_hex(keyed, (const char *)utf8, (size_t)converted, write);
            write += HEX_SIZE;
        } else if (hashed[column] && length) {
            keyed_hex(keyed, field, length, write);
            write += HEX_SIZE;
        } else {
            memcpy(write, field, length);
            write += length;
        }
        if (pos >= stop) return -1; /* the last line without its end */
        if (*pos == delimiter) {
            if (++column >= columns) return -1;
            *write++ = *pos++;
            continue;
        }
        if (column != columns - 1) return -1;
        if (crlf) {
            if (*pos != '\r' || pos + 1 >= stop || pos[1] != '\n') return -1;
            *write++ = *pos++;
        } else if (*pos != '\n') {
            return -1;
        }
        *write++ = *pos++;
        column = 0;
    }
    if (column) return -1; /* ended after a delimiter, without the line end */
    return write - out;
}

PyDoc_STRVAR(rewrite_doc,
"rewrite(data, key, columns, hashed, delimiter, crlf, cp1252) -> bytes | None\n\n"
"Complete plain CSV lines with the columns whose indexes are in `hashed` replaced by the hex\n"
"HMAC-SHA-256 of their non-empty values (as UTF-8: a Windows-1252 file's if `cp1252`) under\n"
"`key`; None if a line does not have `columns` fields or does not end with the line end, or a\n"
"hashed value has a byte Windows-1252 leaves undefined.");

static PyObject *native_rewrite(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer data, key;
    int columns, crlf, cp1252;
    PyObject *hashed_indexes;
    char delimiter;
    if (!PyArg_ParseTuple(args, "y*y*iOcpp", &data, &key, &columns, &hashed_indexes, &delimiter,
                          &crlf, &cp1252))
        return NULL;
    PyObject *result = NULL;
    unsigned char *hashed = NULL, *utf8 = NULL;
    if (!PyBytes_Check(data.obj)) { /* read without the GIL: it must not change meanwhile */
        PyErr_SetString(PyExc_TypeError, "data must be bytes");
        goto done;
    }
    if (columns < 1) {
        PyErr_SetString(PyExc_ValueError, "columns out of range");
        goto done;
    }
    if (delimiter == '\n' || delimiter == '\r' || delimiter == '"' || delimiter == '\0') {
        PyErr_SetString(PyExc_ValueError, "not a delimiter");
        goto done;
    }
    hashed = PyMem_Calloc((size_t)columns, 1);
    PyObject *indexes = PySequence_Fast(hashed_indexes, "hashed must be a sequence");
    if (hashed == NULL || indexes == NULL) {
        Py_XDECREF(indexes);
        if (hashed == NULL) PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(indexes);
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t index = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(indexes, i));
        if (index == -1 && PyErr_Occurred()) break;
        if (index < 0 || index >= columns) {
            PyErr_SetString(PyExc_ValueError, "a hashed column out of range");
            break;
        }
        hashed[index] = 1;
    }
    Py_DECREF(indexes);
    if (PyErr_Occurred()) goto done;

    /* room: each line (a last one without its end included) rewrites at most one field of
     * each hashed column before a wrong field count stops it, each growing by under 64 bytes */
    const char *bytes = data.buf;
    Py_ssize_t lines = 1;
    for (Py_ssize_t i = 0; i < data.len; i++) lines += bytes[i] == '\n';
    Py_ssize_t hashed_count = 0;
    for (int i = 0; i < columns; i++) hashed_count += hashed[i];
    if (lines > (PY_SSIZE_T_MAX - data.len) / HEX_SIZE / (hashed_count ? hashed_count : 1)) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t room = data.len + lines * hashed_count * HEX_SIZE + 2;
    if (cp1252 && data.len > PY_SSIZE_T_MAX / 3) {
        PyErr_NoMemory();
        goto done;
    }
    if (cp1252 && (utf8 = PyMem_Malloc(3 * (size_t)data.len + 1)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, room);
    if (out == NULL) goto done;
    Keyed keyed;
    keyed_init(&keyed, key.buf, key.len);
    Py_ssize_t written;
    Py_BEGIN_ALLOW_THREADS
    written = rewrite(&keyed, bytes, data.len, columns, hashed, delimiter, crlf,
                      PyBytes_AS_STRING(out), room, utf8);
    Py_END_ALLOW_THREADS
    OPENSSL_cleanse(&keyed, sizeof keyed);
    if (written == -2) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_RuntimeError, "rewrite: out of room");
        goto done;
    }
    if (written < 0) {
        Py_DECREF(out);
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (_PyBytes_Resize(&out, written) < 0) goto done;
    result = out;
done:
    PyMem_Free(utf8);
    PyMem_Free(hashed);
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return result;
}

/* Complete lines in data[0:size] if each has exactly `commas` delimiters and the line end
 * (CRLF: every CR right before an LF, and every LF right after a CR; LF: no CR at all), no
 * quote, and no NUL if `nul` says so; -1 otherwise. What FastScanner's skeleton compare says
 * (scanner.py), in one pass without the GIL: 64 bytes at a time as bit masks (SSE2, in every
 * x86-64), a byte at a time elsewhere and for the last bytes. */
typedef struct {
    Py_ssize_t lines;
    int count;         /* delimiters so far in the current line */
    uint64_t cr_carry; /* a CR ended the previous window: its LF must open this one */
} Scan;

static int scan_byte(Scan *scan, const unsigned char *data, Py_ssize_t i, Py_ssize_t size,
                     int commas, unsigned char delimiter, int crlf, int nul)
{
    unsigned char c = data[i];
    if (c == delimiter) return ++scan->count > commas ? -1 : 0;
    if (c == '\n') {
        if (scan->count != commas) return -1;
        if (crlf && (i == 0 || data[i - 1] != '\r')) return -1;
        scan->lines++;
        scan->count = 0;
        return 0;
    }
    if (c == '\r') return crlf && i + 1 < size && data[i + 1] == '\n' ? 0 : -1;
    if (c == '"' || (nul && c == 0)) return -1;
    return 0;
}

#if defined(__SSE2__)
#include <emmintrin.h>

#define INLINE static inline __attribute__((always_inline))

INLINE uint64_t mask64(const unsigned char *data, __m128i byte)
{
    uint64_t mask = 0;
    for (int k = 0; k < 4; k++) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)(data + 16 * k));
        mask |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, byte)) << (16 * k);
    }
    return mask;
}

/* One 64-byte window; -1 if a line in it is not plain. */
INLINE int scan_window(Scan *scan, const unsigned char *data, int commas, __m128i delimiter,
                       int crlf, int nul)
{
    uint64_t delimiters = mask64(data, delimiter);
    uint64_t lf = mask64(data, _mm_set1_epi8('\n'));
    uint64_t cr = mask64(data, _mm_set1_epi8('\r'));
    uint64_t bad = mask64(data, _mm_set1_epi8('"'));
    if (nul) bad |= mask64(data, _mm_setzero_si128());
    if (bad) return -1;
    if (crlf) {
        if (((cr << 1) | scan->cr_carry) != lf) return -1; /* CR and LF always in pairs */
        scan->cr_carry = cr >> 63;
    } else if (cr) {
        return -1;
    }
    uint64_t counted = 0; /* the bits up to the last line end handled */
    while (lf) {
        int at = __builtin_ctzll(lf);
        uint64_t upto = at == 63 ? ~(uint64_t)0 : ((uint64_t)1 << (at + 1)) - 1;
        if (scan->count + __builtin_popcountll(delimiters & upto & ~counted) != commas)
            return -1;
        scan->count = 0;
        scan->lines++;
        counted = upto;
        lf &= lf - 1;
    }
    scan->count += __builtin_popcountll(delimiters & ~counted);
    return scan->count > commas ? -1 : 0;
}
#endif

#if defined(__SSE2__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
/* the POPCNT instruction where the CPU has it (nearly all x86-64 since 2008), chosen at load */
__attribute__((target_clones("popcnt", "default")))
#endif
static Py_ssize_t plain_lines(const unsigned char *data, Py_ssize_t size, int commas,
                              unsigned char delimiter, int crlf, int nul)
{
    Scan scan = {0, 0, 0};
    Py_ssize_t i = 0;
    if (size && data[size - 1] != '\n') return -1;
#if defined(__SSE2__)
    __m128i wanted = _mm_set1_epi8((char)delimiter);
    for (; i + 64 <= size; i += 64) {
        if (scan_window(&scan, data + i, commas, wanted, crlf, nul) < 0) return -1;
    }
    if (scan.cr_carry && (i >= size || data[i] != '\n')) return -1;
#endif
    for (; i < size; i++) {
        if (scan_byte(&scan, data, i, size, commas, delimiter, crlf, nul) < 0) return -1;
    }
    return scan.lines;
}

PyDoc_STRVAR(plain_lines_doc,
"plain_lines(data, start, end, commas, delimiter, crlf, nul) -> int\n\n"
"The number of lines in data[start:end] if all are plain (each with `commas` delimiters and\n"
"the line end, no quote, no NUL if `nul`), else -1.");

static PyObject *native_plain_lines(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer data;
    Py_ssize_t start, end;
    int commas, crlf, nul;
    char delimiter;
    if (!PyArg_ParseTuple(args, "y*nnicpp", &data, &start, &end, &commas, &delimiter, &crlf,
                          &nul))
        return NULL;
    if (start < 0 || end < start || end > data.len || commas < 0 || delimiter == '\n' ||
        delimiter == '\r' || delimiter == '"' || delimiter == '\0') {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "arguments out of range");
        return NULL;
    }
    Py_ssize_t lines;
    Py_BEGIN_ALLOW_THREADS
    lines = plain_lines((const unsigned char *)data.buf + start, end - start, commas,
                        (unsigned char)delimiter, crlf, nul);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(lines);
}

static PyMethodDef methods[] = {
    {"rewrite", native_rewrite, METH_VARARGS, rewrite_doc},
    {"plain_lines", native_plain_lines, METH_VARARGS, plain_lines_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "Pseudonymised CSV columns rewritten in C (see hashed_rows.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
