/* HARNESS.KMCL.ADAPTER_*: the KMCL adapter (adapters/kmcl/kmcl_adapter.c) translates faithfully.
 *
 * A fake KMCL-shaped library (a method table of recording functions, no reference behind it) is
 * turned into an interface by vmbsave_kmcl_get_interface with a fake host, and driven directly:
 *  - CALLBACKS: the adapter registers KMCL-shaped callbacks on each new channel, NULL for a
 *    callback the host lacks; the library's calls of them reach the host with the handle the
 *    host was given, VMBPACKET turned into the packet id, the packet id of a restore read from
 *    the library buffer, buffers, sizes and BytesNeeded passed through, and the host's status
 *    returned unchanged.
 *  - OPERATIONS: arguments reach the library unchanged (ULONG widths, SaveBufferSize 0), a NULL
 *    handle is refused with out-parameters zeroed (ABI.NULL_CHANNEL, SAVE.CONTINUE.PARAMS), a
 *    member the table lacks gives STATUS_NOT_SUPPORTED, a refused cleanup keeps the channel (and
 *    its callbacks) working, and host memory is balanced at the end.
 *  - ENTRY: the ABI.ENTRY.* refusals, and a table of the wrong size or version is refused. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clause_test.h"
#include "vmbsave/kmcl.h"

/* ---- The fake host -------------------------------------------------------------------------- */

typedef struct fake_host {
    int live_allocations;
    int save_calls, restore_calls;
    vmbsave_channel *last_channel;
    uint64_t last_packet_id;
    const void *last_buf;
    uint32_t last_size;
    const void *last_save_buf;
    uint32_t last_save_size;
    NTSTATUS answer;
} fake_host;

static fake_host g_host;

static void *host_alloc(void *context, size_t bytes)
{
    fake_host *h = context;
    h->live_allocations++;
    return malloc(bytes);
}

static void host_free(void *context, void *ptr)
{
    fake_host *h = context;
    if (ptr != NULL) {
        h->live_allocations--;
        free(ptr);
    }
}

static NTSTATUS host_save_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                                 void *save_buf, uint32_t save_buf_size, uint32_t *bytes_needed)
{
    fake_host *h = context;
    h->save_calls++;
    h->last_channel = channel;
    h->last_packet_id = packet_id;
    h->last_buf = save_buf;
    h->last_size = save_buf_size;
    *bytes_needed = 17u;
    return h->answer;
}

static NTSTATUS host_restore_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                                    const void *lib_buf, uint32_t lib_buf_size,
                                    const void *save_buf, uint32_t save_buf_size)
{
    fake_host *h = context;
    h->restore_calls++;
    h->last_channel = channel;
    h->last_packet_id = packet_id;
    h->last_buf = lib_buf;
    h->last_size = lib_buf_size;
    h->last_save_buf = save_buf;
    h->last_save_size = save_buf_size;
    return h->answer;
}

static vmbsave_host_v1 make_host(bool callbacks)
{
    vmbsave_host_v1 host = {
        .size = sizeof host,
        .abi_major = VMBSAVE_ABI_MAJOR,
        .context = &g_host,
        .alloc = host_alloc,
        .free = host_free,
    };
    if (callbacks) {
        host.save_packet = host_save_packet;
        host.restore_packet = host_restore_packet;
    }
    return host;
}

/* ---- The fake KMCL-shaped library ----------------------------------------------------------- */

struct VMBCHANNEL__ {
    PDEVICE_OBJECT Device;
    PFN_VMB_CHANNEL_SAVE_PACKET SavePacket;
    PFN_VMB_CHANNEL_RESTORE_PACKET RestorePacket;
    int RegisterCalls;
    BOOLEAN Enabled;
    /* What the last save/restore call got. */
    ULONG LastSize;
    PVOID LastBuffer;
    /* What the library's SaveContinue / RestoreFromBuffer makes its callback with. */
    VMBPACKET Packet;
    NTSTATUS CallbackStatus;
    UINT32 BytesNeeded;
};

static VMBCHANNEL g_last_channel;

static NTSTATUS FakeAllocate(PDEVICE_OBJECT ParentDeviceObject, BOOLEAN IsServer,
                             VMBCHANNEL *Channel)
{
    if (!IsServer) {
        return STATUS_NOT_SUPPORTED;
    }
    VMBCHANNEL c = VmbsaveKmclAllocate(ParentDeviceObject, sizeof *c);
    if (c == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(c, 0, sizeof *c);
    c->Device = ParentDeviceObject;
    *Channel = c;
    g_last_channel = c;
    return STATUS_SUCCESS;
}

static NTSTATUS FakeCleanup(VMBCHANNEL Channel)
{
    if (Channel->Enabled) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    VmbsaveKmclFree(Channel->Device, Channel);
    return STATUS_SUCCESS;
}

static NTSTATUS FakeEnable(VMBCHANNEL Channel)
{
    Channel->Enabled = TRUE;
    return STATUS_SUCCESS;
}

static NTSTATUS FakeDisable(VMBCHANNEL Channel)
{
    Channel->Enabled = FALSE;
    return STATUS_SUCCESS;
}

static NTSTATUS FakeSetCallbacks(VMBCHANNEL Channel, PFN_VMB_CHANNEL_SAVE_PACKET Save,
                                 PFN_VMB_CHANNEL_RESTORE_PACKET Restore)
{
    Channel->RegisterCalls++;
    Channel->SavePacket = Save;
    Channel->RestorePacket = Restore;
    return STATUS_SUCCESS;
}

/* Makes one save-packet callback with SaveBufSize as given, and returns its status. */
static NTSTATUS FakeSaveContinue(VMBCHANNEL Channel, PVOID SaveBuffer, ULONG SaveBufferSize,
                                 PULONG BytesFilled, PULONG BytesRequired)
{
    Channel->LastBuffer = SaveBuffer;
    Channel->LastSize = SaveBufferSize;
    *BytesFilled = 0;
    *BytesRequired = 0;
    if (Channel->SavePacket == NULL) {
        return STATUS_SUCCESS;
    }
    Channel->BytesNeeded = 0;
    Channel->CallbackStatus =
        Channel->SavePacket(Channel, Channel->Packet, SaveBuffer, SaveBufferSize,
                            &Channel->BytesNeeded);
    return Channel->CallbackStatus;
}

/* Makes one restore-packet callback: Buffer is the library buffer, its last 4 bytes the driver
 * state. */
static NTSTATUS FakeRestore(VMBCHANNEL Channel, PVOID Buffer, ULONG BufferSize)
{
    Channel->LastBuffer = Buffer;
    Channel->LastSize = BufferSize;
    if (Channel->RestorePacket == NULL) {
        return STATUS_SUCCESS;
    }
    return Channel->RestorePacket(Channel, Buffer, BufferSize - 4u,
                                  (PUCHAR)Buffer + BufferSize - 4u, 4u);
}

static const VMBSAVE_KMCL_METHODS fake_methods = {
    .Size = sizeof(VMBSAVE_KMCL_METHODS),
    .Version = VMBSAVE_KMCL_METHODS_VERSION_V1,
    .ImplName = "fake-kmcl",
    .ImplVersion = "0",
    .Capabilities = VMBSAVE_CAP_PACKET_CALLBACKS,
    .VmbChannelAllocate = FakeAllocate,
    .VmbChannelCleanup = FakeCleanup,
    .VmbChannelDisable = FakeDisable,
    .VmbChannelEnable = FakeEnable,
    .VmbChannelRestoreFromBuffer = FakeRestore,
    .VmbChannelSaveContinue = FakeSaveContinue,
    .VmbServerChannelInitSetSaveRestorePacketCallbacks = FakeSetCallbacks,
};

static vmbsave_interface_v1 open_interface(bool callbacks)
{
    memset(&g_host, 0, sizeof g_host);
    vmbsave_host_v1 host = make_host(callbacks);
    vmbsave_interface_v1 t;
    assert_int_equal(vmbsave_kmcl_get_interface(&fake_methods, VMBSAVE_INTERFACE_NAME,
                                                VMBSAVE_ABI_MAJOR, &host, &t, sizeof t),
                     STATUS_SUCCESS);
    assert_string_equal(t.impl_name, "fake-kmcl");
    assert_int_equal(t.capabilities, VMBSAVE_CAP_PACKET_CALLBACKS);
    return t;
}

/* ---- Tests ---------------------------------------------------------------------------------- */

static void callbacks_translated(void **state)
{
    (void)state;
    vmbsave_interface_v1 t = open_interface(true);
    vmbsave_channel *ch = NULL;
    assert_int_equal(t.channel_allocate(t.context, &ch), STATUS_SUCCESS);
    VMBCHANNEL lib = g_last_channel;
    assert_int_equal(lib->RegisterCalls, 1);
    assert_non_null(lib->SavePacket);
    assert_non_null(lib->RestorePacket);

    /* Save: the size query (SaveBufSize 0), then a second call with a buffer. */
    lib->Packet = VMBSAVE_KMCL_PACKET_FROM_ID(UINT64_C(0x1122334455667788));
    g_host.answer = STATUS_BUFFER_TOO_SMALL;
    uint32_t filled = 9, required = 9;
    assert_int_equal(t.save_continue(ch, NULL, 0, &filled, &required), STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(g_host.save_calls, 1);
    assert_ptr_equal(g_host.last_channel, ch); /* the host's handle, not the library's */
    assert_true(g_host.last_packet_id == UINT64_C(0x1122334455667788));
    assert_int_equal(g_host.last_size, 0);
    assert_int_equal(lib->BytesNeeded, 17u);
    unsigned char buf[17] = {0};
    g_host.answer = STATUS_SUCCESS;
    assert_int_equal(t.save_continue(ch, buf, sizeof buf, &filled, &required), STATUS_SUCCESS);
    assert_ptr_equal(g_host.last_buf, buf);
    assert_int_equal(g_host.last_size, sizeof buf);
    assert_ptr_equal(lib->LastBuffer, buf);
    assert_int_equal(lib->LastSize, sizeof buf);

    /* Restore: the packet id comes from the library buffer (FORMAT.md: u64 LE at offset 4). */
    unsigned char image[36 + 4] = {0};
    const uint64_t id = UINT64_C(0x0102030405060708);
    for (int i = 0; i < 8; i++) {
        image[4 + i] = (unsigned char)(id >> (8 * i));
    }
    g_host.answer = STATUS_UNSUCCESSFUL;
    assert_int_equal(t.restore_from_buffer(ch, image, sizeof image), STATUS_UNSUCCESSFUL);
    assert_int_equal(g_host.restore_calls, 1);
    assert_ptr_equal(g_host.last_channel, ch);
    assert_true(g_host.last_packet_id == id);
    assert_ptr_equal(g_host.last_buf, image);
    assert_int_equal(g_host.last_size, 36);
    assert_ptr_equal(g_host.last_save_buf, image + 36);
    assert_int_equal(g_host.last_save_size, 4);

    assert_int_equal(t.channel_cleanup(ch), STATUS_SUCCESS);
    t.release(t.context);
    assert_int_equal(g_host.live_allocations, 0);
}

static void no_host_callbacks_none_registered(void **state)
{
    (void)state;
    vmbsave_interface_v1 t = open_interface(false);
    vmbsave_channel *ch = NULL;
    assert_int_equal(t.channel_allocate(t.context, &ch), STATUS_SUCCESS);
    assert_int_equal(g_last_channel->RegisterCalls, 0);
    assert_null(g_last_channel->SavePacket);
    assert_int_equal(t.channel_cleanup(ch), STATUS_SUCCESS);
    t.release(t.context);
    assert_int_equal(g_host.live_allocations, 0);
}

static void operations_forwarded(void **state)
{
    (void)state;
    vmbsave_interface_v1 t = open_interface(true);
    vmbsave_channel *ch = NULL;
    assert_int_equal(t.channel_allocate(t.context, &ch), STATUS_SUCCESS);
    VMBCHANNEL lib = g_last_channel;

    /* NULL handles: refused, out-parameters zeroed, save_end ignores. */
    uint32_t filled = 5, required = 5, bytes = 5;
    assert_int_equal(t.save_continue(NULL, NULL, 1, &filled, &required), STATUS_INVALID_PARAMETER);
    assert_int_equal(filled, 0);
    assert_int_equal(required, 0);
    assert_int_equal(t.describe(NULL, NULL, 0, &bytes), STATUS_INVALID_PARAMETER);
    assert_int_equal(bytes, 0);
    assert_int_equal(t.enable(NULL), STATUS_INVALID_PARAMETER);
    t.save_end(NULL);

    /* Members the table lacks. */
    assert_int_equal(t.save_begin(ch), STATUS_NOT_SUPPORTED);
    assert_int_equal(t.guest_open(ch, NULL), STATUS_NOT_SUPPORTED);
    assert_int_equal(t.describe(ch, NULL, 0, &bytes), STATUS_NOT_SUPPORTED);
    t.save_end(ch);

    /* A refused cleanup keeps the channel, and its callbacks still find the host. */
    assert_int_equal(t.enable(ch), STATUS_SUCCESS);
    assert_int_equal(t.channel_cleanup(ch), STATUS_INVALID_DEVICE_STATE);
    lib->Packet = VMBSAVE_KMCL_PACKET_FROM_ID(3);
    g_host.answer = STATUS_SUCCESS;
    assert_int_equal(t.save_continue(ch, NULL, 0, &filled, &required), STATUS_SUCCESS);
    assert_ptr_equal(g_host.last_channel, ch);
    assert_true(g_host.last_packet_id == 3);
    assert_int_equal(t.disable(ch), STATUS_SUCCESS);
    assert_int_equal(t.channel_cleanup(ch), STATUS_SUCCESS);
    t.release(t.context);
    assert_int_equal(g_host.live_allocations, 0);
}

static void entry_checks(void **state)
{
    (void)state;
    memset(&g_host, 0, sizeof g_host);
    vmbsave_host_v1 host = make_host(true);
    vmbsave_interface_v1 t;
    memset(&t, 0xAB, sizeof t);
    assert_int_equal(vmbsave_kmcl_get_interface(&fake_methods, "other", VMBSAVE_ABI_MAJOR, &host,
                                                &t, sizeof t),
                     STATUS_NOT_SUPPORTED);
    assert_int_equal(vmbsave_kmcl_get_interface(&fake_methods, VMBSAVE_INTERFACE_NAME, 2, &host,
                                                &t, sizeof t),
                     STATUS_REVISION_MISMATCH);
    assert_int_equal(vmbsave_kmcl_get_interface(&fake_methods, VMBSAVE_INTERFACE_NAME,
                                                VMBSAVE_ABI_MAJOR, NULL, &t, sizeof t),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(vmbsave_kmcl_get_interface(&fake_methods, VMBSAVE_INTERFACE_NAME,
                                                VMBSAVE_ABI_MAJOR, &host, NULL, sizeof t),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(vmbsave_kmcl_get_interface(&fake_methods, VMBSAVE_INTERFACE_NAME,
                                                VMBSAVE_ABI_MAJOR, &host, &t, sizeof t - 1),
                     STATUS_INVALID_BUFFER_SIZE);
    VMBSAVE_KMCL_METHODS old = fake_methods;
    old.Version = 2;
    assert_int_equal(vmbsave_kmcl_get_interface(&old, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR,
                                                &host, &t, sizeof t),
                     STATUS_NOT_SUPPORTED);
    old = fake_methods;
    old.Size = 8;
    assert_int_equal(vmbsave_kmcl_get_interface(&old, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR,
                                                &host, &t, sizeof t),
                     STATUS_NOT_SUPPORTED);
    assert_int_equal(t.size, 0xABABABABu); /* nothing written on failure */
    assert_int_equal(g_host.live_allocations, 0);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.KMCL.ADAPTER_CALLBACKS", callbacks_translated),
    CLAUSE_TEST("HARNESS.KMCL.ADAPTER_NO_CALLBACKS", no_host_callbacks_none_registered),
    CLAUSE_TEST("HARNESS.KMCL.ADAPTER_OPERATIONS", operations_forwarded),
    CLAUSE_TEST("HARNESS.KMCL.ADAPTER_ENTRY", entry_checks),
};

CLAUSE_TEST_MAIN("kmcl_adapter", tests)
