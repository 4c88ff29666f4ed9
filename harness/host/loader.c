/* Loading an implementation through the plug-in ABI (harness/host/loader.h). */
#define _POSIX_C_SOURCE 200809L

#include "host/loader.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static const char *status_text(NTSTATUS s, char *tmp, size_t tmp_size)
{
    const char *name = vmbsave_status_name(s);
    if (name != NULL)
        return name;
    snprintf(tmp, tmp_size, "0x%08x", (unsigned)(uint32_t)s);
    return tmp;
}

/* Checks what a successful query returned; a table we cannot call safely is refused. */
static int verify_table(const vmbsave_interface_v1 *t, char *err, size_t err_size)
{
    if (t->size < sizeof(*t)) {
        set_err(err, err_size, "interface table too small: size %u, need %zu", (unsigned)t->size,
                sizeof(*t));
        return -1;
    }
    /* The query passed sizeof(*t): a table cannot have filled in more (ABI.TABLE.COMPLETE). */
    if (t->size > sizeof(*t)) {
        set_err(err, err_size, "interface table size %u is more than the %zu bytes passed",
                (unsigned)t->size, sizeof(*t));
        return -1;
    }
    if (t->abi_major != VMBSAVE_ABI_MAJOR) {
        set_err(err, err_size, "interface abi_major %u, expected %u", (unsigned)t->abi_major,
                (unsigned)VMBSAVE_ABI_MAJOR);
        return -1;
    }
    if (t->impl_name == NULL || t->impl_version == NULL) {
        set_err(err, err_size, "interface has no impl_name or impl_version");
        return -1;
    }
#define VMBSAVE_CHECK_OP(op)                                                                       \
    do {                                                                                           \
        if (t->op == NULL) {                                                                       \
            set_err(err, err_size, "interface operation %s is NULL", #op);                         \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    VMBSAVE_CHECK_OP(release);
    VMBSAVE_CHECK_OP(channel_allocate);
    VMBSAVE_CHECK_OP(channel_cleanup);
    VMBSAVE_CHECK_OP(init_set_offer);
    VMBSAVE_CHECK_OP(enable);
    VMBSAVE_CHECK_OP(disable);
    VMBSAVE_CHECK_OP(guest_open);
    VMBSAVE_CHECK_OP(guest_close);
    VMBSAVE_CHECK_OP(start);
    VMBSAVE_CHECK_OP(pause);
    VMBSAVE_CHECK_OP(gpadl_create);
    VMBSAVE_CHECK_OP(gpadl_teardown_begin);
    VMBSAVE_CHECK_OP(gpadl_teardown_complete);
    VMBSAVE_CHECK_OP(packet_send);
    VMBSAVE_CHECK_OP(packet_complete);
    VMBSAVE_CHECK_OP(ring_write);
    VMBSAVE_CHECK_OP(ring_read);
    VMBSAVE_CHECK_OP(save_begin);
    VMBSAVE_CHECK_OP(save_continue);
    VMBSAVE_CHECK_OP(save_end);
    VMBSAVE_CHECK_OP(restore_from_buffer);
    VMBSAVE_CHECK_OP(describe);
#undef VMBSAVE_CHECK_OP
    return 0;
}

int vmbsave_impl_from_entry(vmbsave_get_interface_fn entry, const vmbsave_host_v1 *host,
                            vmbsave_impl *out, char *err, size_t err_size)
{
    if (out == NULL) {
        set_err(err, err_size, "no output struct");
        return -1;
    }
    memset(out, 0, sizeof(*out)); /* dl_handle NULL: a linked-in entry point */
    if (entry == NULL) {
        set_err(err, err_size, "NULL entry point");
        return -1;
    }
    vmbsave_interface_v1 table;
    memset(&table, 0, sizeof(table));
    NTSTATUS s =
        entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, host, &table, (uint32_t)sizeof(table));
    if (s != STATUS_SUCCESS) {
        char tmp[16];
        set_err(err, err_size, "%s refused the query: %s", VMBSAVE_ENTRY_POINT,
                status_text(s, tmp, sizeof(tmp)));
        return -1;
    }
    if (verify_table(&table, err, err_size) != 0) {
        /* The table may still hold state: give it back if we can. */
        if (table.release != NULL)
            table.release(table.context);
        return -1;
    }
    out->iface = table;
    return 0;
}

int vmbsave_impl_load(const char *path, const vmbsave_host_v1 *host, vmbsave_impl *out, char *err,
                      size_t err_size)
{
    if (out == NULL) {
        set_err(err, err_size, "no output struct");
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (path == NULL) {
        set_err(err, err_size, "no plug-in path");
        return -1;
    }
    /* A plug-in is a file, never a library name: dlopen() would search the system's library
     * path for a name without a slash (and "libc.so.6" would load the C library). */
    char local[4096];
    if (strchr(path, '/') == NULL) {
        if ((size_t)snprintf(local, sizeof(local), "./%s", path) >= sizeof(local)) {
            set_err(err, err_size, "plug-in path too long");
            return -1;
        }
        path = local;
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *why = dlerror();
        set_err(err, err_size, "dlopen(%s) failed: %s", path, why != NULL ? why : "unknown");
        return -1;
    }
    (void)dlerror();
    void *sym = dlsym(dl, VMBSAVE_ENTRY_POINT);
    if (sym == NULL) {
        const char *why = dlerror();
        set_err(err, err_size, "%s: no %s: %s", path, VMBSAVE_ENTRY_POINT,
                why != NULL ? why : "symbol is NULL");
        dlclose(dl);
        return -1;
    }
    /* POSIX guarantees an object pointer from dlsym converts to a function pointer;
     * memcpy avoids the ISO C warning about the cast. */
    vmbsave_get_interface_fn entry;
    _Static_assert(sizeof(entry) == sizeof(sym), "function and object pointers differ in size");
    memcpy(&entry, &sym, sizeof(entry));
    if (vmbsave_impl_from_entry(entry, host, out, err, err_size) != 0) {
        dlclose(dl);
        return -1;
    }
    out->dl_handle = dl;
    return 0;
}

void vmbsave_impl_unload(vmbsave_impl *impl)
{
    if (impl == NULL)
        return;
    if (impl->iface.release != NULL)
        impl->iface.release(impl->iface.context);
    if (impl->dl_handle != NULL)
        dlclose(impl->dl_handle);
    memset(impl, 0, sizeof(*impl));
}
