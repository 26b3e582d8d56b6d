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
#include <string.h>

#define HEX_SIZE (2 * SHA256_DIGEST_LENGTH)
#define MAX_COLUMNS 4096

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
                          const unsigned char *hashed, char delimiter, int crlf, char *out)
{
    const char *pos = data, *stop = data + size;
    char *write = out;
    int column = 0;
    while (pos < stop) {
        const char *field = pos;
        while (pos < stop && *pos != delimiter && *pos != '\n' && *pos != '\r') pos++;
        size_t length = (size_t)(pos - field);
        if (!length && columns == 1) return -1; /* an empty line: no field, the csv module's */
        if (hashed[column] && length) {
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
"rewrite(data, key, columns, hashed, delimiter, crlf) -> bytes | None\n\n"
"Complete plain CSV lines with the columns whose indexes are in `hashed` replaced by the hex\n"
"HMAC-SHA-256 of their non-empty values under `key`; None if a line does not have `columns`\n"
"fields or does not end with the line end.");

static PyObject *native_rewrite(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer data, key;
    int columns, crlf;
    PyObject *hashed_indexes;
    char delimiter;
    if (!PyArg_ParseTuple(args, "y*y*iOcp", &data, &key, &columns, &hashed_indexes, &delimiter,
                          &crlf))
        return NULL;
    PyObject *result = NULL;
    unsigned char *hashed = NULL;
    if (columns < 1 || columns > MAX_COLUMNS) {
        PyErr_SetString(PyExc_ValueError, "columns out of range");
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
    Py_ssize_t room = data.len + lines * hashed_count * HEX_SIZE;
    PyObject *out = PyBytes_FromStringAndSize(NULL, room ? room : 1);
    if (out == NULL) goto done;
    Keyed keyed;
    keyed_init(&keyed, key.buf, key.len);
    Py_ssize_t written;
    Py_BEGIN_ALLOW_THREADS
    written = rewrite(&keyed, bytes, data.len, columns, hashed, delimiter, crlf,
                      PyBytes_AS_STRING(out));
    Py_END_ALLOW_THREADS
    OPENSSL_cleanse(&keyed, sizeof keyed);
    if (written < 0) {
        Py_DECREF(out);
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (_PyBytes_Resize(&out, written) < 0) goto done;
    result = out;
done:
    PyMem_Free(hashed);
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return result;
}

static PyMethodDef methods[] = {
    {"rewrite", native_rewrite, METH_VARARGS, rewrite_doc},
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
