/* KMCL-shaped plug-ins: write the library under test with the prototypes of Microsoft's KMCL
 * header (VmbusKernelModeClientLibApi.h), fill one method table, and let the adapter
 * (adapters/kmcl/, static library vmbsave_kmcl_adapter, CMake target vmbsave::kmcl_adapter)
 * turn it into the plug-in ABI of vmbsave/abi.h:
 *
 *     #include "vmbsave/kmcl.h"
 *     static const VMBSAVE_KMCL_METHODS my_methods = { .Size = sizeof my_methods, ... };
 *     VMBSAVE_KMCL_PLUGIN(&my_methods)        // defines the exported vmbsave_get_interface
 *
 * docs/SPEC.md (section 13, "KMCL names") maps every member to the vmbsave operation and its clauses.
 *
 * Who plays whom. In Windows a VSP (the driver) calls KMCL (the library). In vmbsave the harness
 * plays the driver and your code plays the library, so:
 *  - the harness calls your VmbChannelSaveBegin/Continue/End, VmbChannelRestoreFromBuffer and
 *    the lifecycle members, through the adapter;
 *  - the driver's per-packet callbacks EVT_VMB_CHANNEL_SAVE_PACKET / _RESTORE_PACKET are
 *    registered with YOUR VmbServerChannelInitSetSaveRestorePacketCallbacks: the adapter calls
 *    it on every channel right after your VmbChannelAllocate succeeded, in the driver's place,
 *    with KMCL-shaped function pointers that forward to the harness's callbacks. Your library
 *    stores them per channel and calls them during save and restore, exactly as KMCL would.
 *
 * Base types are those of a 64-bit Windows build (LLP64): ULONG is 32 bits, as KMCL's
 * SaveBufferSize/BytesFilled/BytesRequired are, so they pass through to vmbsave's uint32_t
 * unchanged. */
#ifndef VMBSAVE_KMCL_H
#define VMBSAVE_KMCL_H

#include <stddef.h>
#include <stdint.h>

#include "vmbsave/abi.h"
#include "vmbsave/ntstatus.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Base types (winnt.h / ntdef.h names; NTSTATUS is in vmbsave/ntstatus.h) -------------- */
#ifndef VOID
#define VOID void
#endif
typedef void *PVOID;
typedef uint8_t UCHAR, *PUCHAR;
typedef uint8_t BOOLEAN;
typedef uint16_t USHORT;
typedef uint32_t ULONG, *PULONG;
typedef uint32_t UINT32, *PUINT32;
typedef uint64_t UINT64, *PUINT64;
typedef uint64_t ULONG64;
typedef size_t SIZE_T;
typedef char CHAR, *PCHAR;
#ifndef TRUE
#define TRUE ((BOOLEAN)1)
#endif
#ifndef FALSE
#define FALSE ((BOOLEAN)0)
#endif

_Static_assert(sizeof(ULONG) == 4, "KMCL's ULONG is 32 bits (LLP64)");
_Static_assert(sizeof(void *) >= sizeof(UINT64), "a VMBPACKET carries a 64-bit packet id");

/* ---- Handles ----------------------------------------------------------------------------- */

/* A channel. Opaque to vmbsave: your library defines struct VMBCHANNEL__ (KMCL declares the
 * handle with DECLARE_HANDLE, which is this). The harness never sees it: the adapter hands the
 * harness a handle of its own and passes yours to your functions, never NULL. */
typedef struct VMBCHANNEL__ *VMBCHANNEL;

/* A packet in flight. In KMCL the library allocates packet objects (VmbPacketAllocate) and the
 * driver keeps its transaction context in them. vmbsave's driver names each packet in flight
 * by a non-zero 64-bit id instead (packet_send), so a VMBPACKET here is that id carried in a
 * handle: your VmbPacketSend receives it, you hand the same handle to the save-packet callback,
 * and VMBSAVE_KMCL_PACKET_ID gives the number the image and describe record (FORMAT.md
 * PACKETS, "packet id"). Never dereference it. Packet id 0 (refused by LIFECYCLE.PACKET.SEND)
 * arrives as NULL. */
typedef struct VMBPACKET__ *VMBPACKET;
#define VMBSAVE_KMCL_PACKET_ID(packet) ((UINT64)(uintptr_t)(packet))
#define VMBSAVE_KMCL_PACKET_FROM_ID(id) ((VMBPACKET)(uintptr_t)(UINT64)(id))

/* The parent device of VmbChannelAllocate. In vmbsave it stands for the harness (the host of
 * abi.h) that loaded the plug-in: one per vmbsave_get_interface. Opaque; keep the pointer in
 * your channel and allocate through it, since every byte a plug-in holds must come from the
 * host's allocator (clauses RESOURCES.*; the harness injects failures there). */
typedef struct _DEVICE_OBJECT DEVICE_OBJECT, *PDEVICE_OBJECT;

/* vmbsave's stand-ins for ExAllocatePool2 / ExFreePool, provided by the adapter: the host's
 * alloc and free. VmbsaveKmclAllocate returns memory aligned for any object, or NULL (treat as
 * STATUS_INSUFFICIENT_RESOURCES); VmbsaveKmclFree(Device, NULL) does nothing. */
PVOID VmbsaveKmclAllocate(PDEVICE_OBJECT Device, SIZE_T NumberOfBytes);
VOID VmbsaveKmclFree(PDEVICE_OBJECT Device, PVOID P);

/* ---- The driver's per-packet callbacks (KMCL header, _IRQL_requires_(PASSIVE_LEVEL)) ------ */

/* Called for each packet in flight during a save: first with SaveBufSize 0; a driver with state
 * fails that call and sets *BytesNeeded, and is called once more with a zeroed buffer of
 * exactly that size (clauses PACKET.SAVE.*). Forwards to the host's save_packet(context,
 * channel, VMBSAVE_KMCL_PACKET_ID(Packet), SaveBuf, SaveBufSize, BytesNeeded). */
typedef NTSTATUS EVT_VMB_CHANNEL_SAVE_PACKET(VMBCHANNEL Channel, VMBPACKET Packet, PVOID SaveBuf,
                                             UINT32 SaveBufSize, PUINT32 BytesNeeded);
typedef EVT_VMB_CHANNEL_SAVE_PACKET *PFN_VMB_CHANNEL_SAVE_PACKET;

/* Called once per restored packet, in send order, by the RestoreFromBuffer call that commits
 * (clauses PACKET.RESTORE.*). LibBuf is the packet's library buffer of FORMAT.md (the record
 * without its driver state); SaveBuf is what the driver saved (NULL and 0 if nothing). KMCL
 * passes no packet: its driver rebuilds the packet from LibBuf with VmbPacketRestore. vmbsave's
 * host callback takes the packet id, so the adapter reads it from LibBuf (FORMAT.md: u64 at
 * offset 4; 0 if LibBufSize < 12) and forwards to the host's restore_packet(context, channel,
 * packet_id, LibBuf, LibBufSize, SaveBuf, SaveBufSize). */
typedef NTSTATUS EVT_VMB_CHANNEL_RESTORE_PACKET(VMBCHANNEL Channel, PVOID LibBuf,
                                                UINT32 LibBufSize, PVOID SaveBuf,
                                                UINT32 SaveBufSize);
typedef EVT_VMB_CHANNEL_RESTORE_PACKET *PFN_VMB_CHANNEL_RESTORE_PACKET;

/* ---- Save/restore entry points (KMCL_SERVER_ONLY_METHODS) -------------------------------- */

/* VmbChannelSaveBegin: save_begin (SAVE.BEGIN.*). */
typedef NTSTATUS FN_VMB_CHANNEL_SAVE_BEGIN(VMBCHANNEL Channel);
typedef FN_VMB_CHANNEL_SAVE_BEGIN *PFN_VMB_CHANNEL_SAVE_BEGIN;

/* VmbChannelSaveContinue: save_continue (SAVE.CONTINUE.*). Write only within
 * [SaveBuffer, SaveBuffer + *BytesFilled), *BytesFilled <= SaveBufferSize. */
typedef NTSTATUS FN_VMB_CHANNEL_SAVE_CONTINUE(VMBCHANNEL Channel, PVOID SaveBuffer,
                                              ULONG SaveBufferSize, PULONG BytesFilled,
                                              PULONG BytesRequired);
typedef FN_VMB_CHANNEL_SAVE_CONTINUE *PFN_VMB_CHANNEL_SAVE_CONTINUE;

/* VmbChannelSaveEnd: save_end (SAVE.END.*). */
typedef VOID FN_VMB_CHANNEL_SAVE_END(VMBCHANNEL Channel);
typedef FN_VMB_CHANNEL_SAVE_END *PFN_VMB_CHANNEL_SAVE_END;

/* VmbChannelRestoreFromBuffer: restore_from_buffer (RESTORE.*). The buffer is the caller's and
 * read-only, although KMCL types it PVOID. */
typedef NTSTATUS FN_VMB_CHANNEL_RESTORE_FROM_BUFFER(VMBCHANNEL Channel, PVOID Buffer,
                                                    ULONG BufferSize);
typedef FN_VMB_CHANNEL_RESTORE_FROM_BUFFER *PFN_VMB_CHANNEL_RESTORE_FROM_BUFFER;

/* VmbServerChannelInitSetSaveRestorePacketCallbacks: the adapter calls it (playing the
 * driver) on each new channel, before anything else, when the host has either callback. A
 * callback the host does not have is passed as NULL: never call it (a missing save callback
 * means every packet has empty driver state; PACKET.CALLBACKS.OPTIONAL). A failure status
 * fails channel_allocate with it (the adapter cleans the channel up). */
typedef NTSTATUS FN_VMB_SERVER_CHANNEL_INIT_SET_SAVE_RESTORE_PACKET_CALLBACKS(
    VMBCHANNEL Channel, PFN_VMB_CHANNEL_SAVE_PACKET SavePacketCallback,
    PFN_VMB_CHANNEL_RESTORE_PACKET RestorePacketCallback);
typedef FN_VMB_SERVER_CHANNEL_INIT_SET_SAVE_RESTORE_PACKET_CALLBACKS
    *PFN_VMB_SERVER_CHANNEL_INIT_SET_SAVE_RESTORE_PACKET_CALLBACKS;

/* ---- Lifecycle with a KMCL counterpart (KMCL_CLIENT_INTERFACE_V1 members) ----------------
 * KMCL's Disable, Pause, Start and Cleanup return VOID; vmbsave's model reports misuse with a
 * status (clauses LIFECYCLE.*), so these return NTSTATUS. */

/* VmbChannelAllocate: channel_allocate. The adapter passes its device and IsServer TRUE. On
 * failure leave *Channel alone or NULL and hold nothing. */
typedef NTSTATUS FN_VMB_CHANNEL_ALLOCATE(PDEVICE_OBJECT ParentDeviceObject, BOOLEAN IsServer,
                                         VMBCHANNEL *Channel);
typedef FN_VMB_CHANNEL_ALLOCATE *PFN_VMB_CHANNEL_ALLOCATE;
/* VmbChannelCleanup: channel_cleanup; frees a DISABLED channel, else
 * STATUS_INVALID_DEVICE_STATE and nothing freed (LIFECYCLE.CLEANUP.REQUIRES_DISABLED). */
typedef NTSTATUS FN_VMB_CHANNEL_CLEANUP(VMBCHANNEL Channel);
typedef FN_VMB_CHANNEL_CLEANUP *PFN_VMB_CHANNEL_CLEANUP;
/* VmbChannelEnable (offer), VmbChannelDisable (revoke), VmbChannelStart, VmbChannelPause. */
typedef NTSTATUS FN_VMB_CHANNEL_ENABLE(VMBCHANNEL Channel);
typedef FN_VMB_CHANNEL_ENABLE *PFN_VMB_CHANNEL_ENABLE;
typedef NTSTATUS FN_VMB_CHANNEL_DISABLE(VMBCHANNEL Channel);
typedef FN_VMB_CHANNEL_DISABLE *PFN_VMB_CHANNEL_DISABLE;
typedef NTSTATUS FN_VMB_CHANNEL_START(VMBCHANNEL Channel);
typedef FN_VMB_CHANNEL_START *PFN_VMB_CHANNEL_START;
typedef NTSTATUS FN_VMB_CHANNEL_PAUSE(VMBCHANNEL Channel);
typedef FN_VMB_CHANNEL_PAUSE *PFN_VMB_CHANNEL_PAUSE;

/* ---- Operations vmbsave's model adds (no KMCL function of this shape) --------------------- */

typedef vmbsave_offer VMBSAVE_OFFER;                  /* abi.h's struct, KMCL-style names */
typedef const vmbsave_offer *PCVMBSAVE_OFFER;
typedef vmbsave_open_params VMBSAVE_OPEN_PARAMETERS;
typedef const vmbsave_open_params *PCVMBSAVE_OPEN_PARAMETERS;
typedef vmbsave_ring_direction VMBSAVE_RING_DIRECTION;

/* VmbServerChannelInitSetOffer: init_set_offer. One atomic call for what KMCL sets with
 * VmbServerChannelInitSetTargetInterfaceId, ...SetFlags and ...SetMmioMegabytes
 * (LIFECYCLE.OFFER.*). */
typedef NTSTATUS FN_VMB_SERVER_CHANNEL_INIT_SET_OFFER(VMBCHANNEL Channel, PCVMBSAVE_OFFER Offer);
typedef FN_VMB_SERVER_CHANNEL_INIT_SET_OFFER *PFN_VMB_SERVER_CHANNEL_INIT_SET_OFFER;
/* VmbsaveGuestOpen / VmbsaveGuestClose: guest_open / guest_close, the guest's side of the
 * channel (KMCL would call the driver's EvtVmbChannelOpened / Closed). */
typedef NTSTATUS FN_VMBSAVE_GUEST_OPEN(VMBCHANNEL Channel, PCVMBSAVE_OPEN_PARAMETERS Params);
typedef FN_VMBSAVE_GUEST_OPEN *PFN_VMBSAVE_GUEST_OPEN;
typedef NTSTATUS FN_VMBSAVE_GUEST_CLOSE(VMBCHANNEL Channel);
typedef FN_VMBSAVE_GUEST_CLOSE *PFN_VMBSAVE_GUEST_CLOSE;
/* VmbsaveGuestGpadlCreate / ...TeardownBegin / ...TeardownComplete: the guest's GPADLs
 * (gpadl_create, gpadl_teardown_begin, gpadl_teardown_complete; LIFECYCLE.GPADL.*). The server's
 * VmbChannelMapGpadl/UnmapGpadl are not modelled. */
typedef NTSTATUS FN_VMBSAVE_GUEST_GPADL_CREATE(VMBCHANNEL Channel, UINT32 GpadlId,
                                               const UINT64 *Pfns, UINT32 PfnCount);
typedef FN_VMBSAVE_GUEST_GPADL_CREATE *PFN_VMBSAVE_GUEST_GPADL_CREATE;
typedef NTSTATUS FN_VMBSAVE_GUEST_GPADL_TEARDOWN(VMBCHANNEL Channel, UINT32 GpadlId);
typedef FN_VMBSAVE_GUEST_GPADL_TEARDOWN *PFN_VMBSAVE_GUEST_GPADL_TEARDOWN;
/* VmbPacketSend: packet_send (LIFECYCLE.PACKET.SEND). KMCL's is (VMBPACKET, PVOID Buffer,
 * UINT32 BufferSize, PMDL, UINT32 Flags); vmbsave's names the channel and a GPADL id (0: none)
 * instead of an MDL. Buffer is read-only. */
typedef NTSTATUS FN_VMB_PACKET_SEND(VMBCHANNEL Channel, VMBPACKET PacketObject, UINT32 GpadlId,
                                    PVOID Buffer, UINT32 BufferSize);
typedef FN_VMB_PACKET_SEND *PFN_VMB_PACKET_SEND;
/* VmbsaveGuestPacketComplete: packet_complete, the guest's completion of a packet in flight
 * (KMCL would call the driver's EvtVmbPacketCompletionRoutine). */
typedef NTSTATUS FN_VMBSAVE_GUEST_PACKET_COMPLETE(VMBCHANNEL Channel, VMBPACKET PacketObject);
typedef FN_VMBSAVE_GUEST_PACKET_COMPLETE *PFN_VMBSAVE_GUEST_PACKET_COMPLETE;
/* VmbsaveRingWrite / VmbsaveRingRead: ring_write / ring_read (LIFECYCLE.RING.*). */
typedef NTSTATUS FN_VMBSAVE_RING_WRITE(VMBCHANNEL Channel, VMBSAVE_RING_DIRECTION Direction,
                                       PVOID Data, UINT32 Bytes);
typedef FN_VMBSAVE_RING_WRITE *PFN_VMBSAVE_RING_WRITE;
typedef NTSTATUS FN_VMBSAVE_RING_READ(VMBCHANNEL Channel, VMBSAVE_RING_DIRECTION Direction,
                                      PVOID Data, UINT32 Bytes, PUINT32 BytesRead);
typedef FN_VMBSAVE_RING_READ *PFN_VMBSAVE_RING_READ;
/* VmbsaveChannelDescribe: describe (ABI.DESCRIBE.*; SPEC.md section 14). */
typedef NTSTATUS FN_VMBSAVE_CHANNEL_DESCRIBE(VMBCHANNEL Channel, PCHAR Buffer, ULONG BufferSize,
                                             PULONG BytesRequired);
typedef FN_VMBSAVE_CHANNEL_DESCRIBE *PFN_VMBSAVE_CHANNEL_DESCRIBE;

/* ---- The method table ---------------------------------------------------------------------
 * Laid out like KMCL_SERVER_INTERFACE_V1: a header, the client-interface members vmbsave needs,
 * then the save/restore-related KMCL_SERVER_ONLY_METHODS in KMCL's field order, then what
 * vmbsave's model adds. Fill it with designated initializers.
 *
 * The KMCL_SERVER_ONLY_METHODS members vmbsave does not model are kept, in their place and
 * under their KMCL name, as placeholders: the adapter ignores them; leave them NULL.
 * (VmbChannelMapGpadl, VmbChannelUnmapGpadl, VmbConvertVmbusHandleToKernelHandle,
 * VmbPacketRestore, VmbServerChannelInitSetFlags, VmbServerChannelInitSetMmioMegabytes,
 * VmbServerChannelInitSetTargetInterfaceId, VmbServerChannelInitSetTargetVtl,
 * VmbServerChannelInitSetVmbusHandle; flags, MMIO and interface ids arrive together through
 * VmbServerChannelInitSetOffer.) KMCL_CLIENT_INTERFACE_V1 members other than the six below,
 * and the undocumented V5 ...Ex member, are omitted.
 *
 * A NULL required member is not an error at load time: the adapter answers that operation with
 * STATUS_NOT_SUPPORTED, so certify fails it under the operation's own clauses. */
#define VMBSAVE_KMCL_METHODS_VERSION_V1 1u

typedef struct _VMBSAVE_KMCL_METHODS {
    /* Header (KMCL: INTERFACE.Size / Version). */
    ULONG Size;           /* sizeof(VMBSAVE_KMCL_METHODS) */
    ULONG Version;        /* VMBSAVE_KMCL_METHODS_VERSION_V1 */
    const char *ImplName; /* the table's impl_name / impl_version (ABI.TABLE.COMPLETE) */
    const char *ImplVersion;
    ULONG64 Capabilities; /* VMBSAVE_CAP_* of abi.h */

    /* KMCL_CLIENT_INTERFACE_V1 (vmbsave needs these six; alphabetical, as KMCL lists). */
    PFN_VMB_CHANNEL_ALLOCATE VmbChannelAllocate;
    PFN_VMB_CHANNEL_CLEANUP VmbChannelCleanup;
    PFN_VMB_CHANNEL_DISABLE VmbChannelDisable;
    PFN_VMB_CHANNEL_ENABLE VmbChannelEnable;
    PFN_VMB_CHANNEL_PAUSE VmbChannelPause;
    PFN_VMB_CHANNEL_START VmbChannelStart;

    /* KMCL_SERVER_ONLY_METHODS, in KMCL's order. */
    PVOID VmbChannelMapGpadl;                                  /* not modelled */
    PFN_VMB_CHANNEL_RESTORE_FROM_BUFFER VmbChannelRestoreFromBuffer;
    PFN_VMB_CHANNEL_SAVE_BEGIN VmbChannelSaveBegin;
    PFN_VMB_CHANNEL_SAVE_CONTINUE VmbChannelSaveContinue;
    PFN_VMB_CHANNEL_SAVE_END VmbChannelSaveEnd;
    PVOID VmbChannelUnmapGpadl;                                /* not modelled */
    PVOID VmbConvertVmbusHandleToKernelHandle;                 /* not modelled */
    PVOID VmbPacketRestore;                                    /* not modelled */
    PVOID VmbServerChannelInitSetFlags;                        /* in ...InitSetOffer */
    PVOID VmbServerChannelInitSetMmioMegabytes;                /* in ...InitSetOffer */
    PFN_VMB_SERVER_CHANNEL_INIT_SET_SAVE_RESTORE_PACKET_CALLBACKS
        VmbServerChannelInitSetSaveRestorePacketCallbacks;
    PVOID VmbServerChannelInitSetTargetInterfaceId;            /* in ...InitSetOffer */
    PVOID VmbServerChannelInitSetTargetVtl;                    /* not modelled */
    PVOID VmbServerChannelInitSetVmbusHandle;                  /* not modelled */

    /* vmbsave's model. */
    PFN_VMB_SERVER_CHANNEL_INIT_SET_OFFER VmbServerChannelInitSetOffer;
    PFN_VMBSAVE_GUEST_OPEN VmbsaveGuestOpen;
    PFN_VMBSAVE_GUEST_CLOSE VmbsaveGuestClose;
    PFN_VMBSAVE_GUEST_GPADL_CREATE VmbsaveGuestGpadlCreate;
    PFN_VMBSAVE_GUEST_GPADL_TEARDOWN VmbsaveGuestGpadlTeardownBegin;
    PFN_VMBSAVE_GUEST_GPADL_TEARDOWN VmbsaveGuestGpadlTeardownComplete;
    PFN_VMB_PACKET_SEND VmbPacketSend;
    PFN_VMBSAVE_GUEST_PACKET_COMPLETE VmbsaveGuestPacketComplete;
    PFN_VMBSAVE_RING_WRITE VmbsaveRingWrite;
    PFN_VMBSAVE_RING_READ VmbsaveRingRead;
    PFN_VMBSAVE_CHANNEL_DESCRIBE VmbsaveChannelDescribe;
} VMBSAVE_KMCL_METHODS;

/* ---- The adapter (adapters/kmcl/kmcl_adapter.c) ------------------------------------------ */

/* vmbsave_get_interface for a KMCL-shaped table (abi.h's contract, clauses ABI.ENTRY.*). A
 * table that is NULL, smaller than VMBSAVE_KMCL_METHODS or of another Version makes every
 * query fail with STATUS_NOT_SUPPORTED. The table must outlive every interface handed out. */
NTSTATUS vmbsave_kmcl_get_interface(const VMBSAVE_KMCL_METHODS *methods, const char *name,
                                    uint32_t abi_major, const vmbsave_host_v1 *host,
                                    vmbsave_interface_v1 *out, uint32_t out_size);

/* Defines the plug-in's one exported symbol for a KMCL-shaped table. Link the shared library
 * with vmbsave::kmcl_adapter, which also hides every other symbol (ABI.ENTRY.ONLY_EXPORT). */
#define VMBSAVE_KMCL_PLUGIN(methods)                                                        \
    VMBSAVE_EXPORT NTSTATUS vmbsave_get_interface(const char *name, uint32_t abi_major,     \
                                                  const vmbsave_host_v1 *host,              \
                                                  vmbsave_interface_v1 *out,                \
                                                  uint32_t out_size)                        \
    {                                                                                       \
        return vmbsave_kmcl_get_interface((methods), name, abi_major, host, out, out_size); \
    }

#ifdef __cplusplus
}
#endif

#endif /* VMBSAVE_KMCL_H */
