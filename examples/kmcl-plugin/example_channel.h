/* The example library's functions, with KMCL's names and shapes (vmbsave/kmcl.h). plugin.c puts
 * them into the method table; bad/plugin_overrun.c reuses them around one broken function. */
#ifndef VMBSAVE_KMCL_EXAMPLE_CHANNEL_H
#define VMBSAVE_KMCL_EXAMPLE_CHANNEL_H

#include <vmbsave/kmcl.h>

/* KMCL_CLIENT_INTERFACE_V1 */
FN_VMB_CHANNEL_ALLOCATE VmbChannelAllocate;
FN_VMB_CHANNEL_CLEANUP VmbChannelCleanup;
FN_VMB_CHANNEL_DISABLE VmbChannelDisable;
FN_VMB_CHANNEL_ENABLE VmbChannelEnable;
FN_VMB_CHANNEL_PAUSE VmbChannelPause;
FN_VMB_CHANNEL_START VmbChannelStart;

/* KMCL_SERVER_ONLY_METHODS */
FN_VMB_CHANNEL_RESTORE_FROM_BUFFER VmbChannelRestoreFromBuffer;
FN_VMB_CHANNEL_SAVE_BEGIN VmbChannelSaveBegin;
FN_VMB_CHANNEL_SAVE_CONTINUE VmbChannelSaveContinue;
FN_VMB_CHANNEL_SAVE_END VmbChannelSaveEnd;
FN_VMB_SERVER_CHANNEL_INIT_SET_SAVE_RESTORE_PACKET_CALLBACKS
    VmbServerChannelInitSetSaveRestorePacketCallbacks;

/* vmbsave's model */
FN_VMB_SERVER_CHANNEL_INIT_SET_OFFER VmbServerChannelInitSetOffer;
FN_VMBSAVE_GUEST_OPEN VmbsaveGuestOpen;
FN_VMBSAVE_GUEST_CLOSE VmbsaveGuestClose;
FN_VMBSAVE_GUEST_GPADL_CREATE VmbsaveGuestGpadlCreate;
FN_VMBSAVE_GUEST_GPADL_TEARDOWN VmbsaveGuestGpadlTeardownBegin;
FN_VMBSAVE_GUEST_GPADL_TEARDOWN VmbsaveGuestGpadlTeardownComplete;
FN_VMB_PACKET_SEND VmbPacketSend;
FN_VMBSAVE_GUEST_PACKET_COMPLETE VmbsaveGuestPacketComplete;
FN_VMBSAVE_RING_WRITE VmbsaveRingWrite;
FN_VMBSAVE_RING_READ VmbsaveRingRead;
FN_VMBSAVE_CHANNEL_DESCRIBE VmbsaveChannelDescribe;

/* The method table's initializers, with the impl name and the SaveContinue to use (plugin.c:
 * VmbChannelSaveContinue; bad/plugin_overrun.c: its broken one). */
#define EXAMPLE_KMCL_METHODS_INIT(name, save_continue)                                                    \
    .Size = sizeof(VMBSAVE_KMCL_METHODS), .Version = VMBSAVE_KMCL_METHODS_VERSION_V1,        \
    .ImplName = (name), .ImplVersion = "1.0.0",                                              \
    .Capabilities = VMBSAVE_CAP_DESCRIBE | VMBSAVE_CAP_PACKET_CALLBACKS |                    \
                    VMBSAVE_CAP_CHANNELS_THREAD_SAFE,                                        \
    .VmbChannelAllocate = VmbChannelAllocate, .VmbChannelCleanup = VmbChannelCleanup,        \
    .VmbChannelDisable = VmbChannelDisable, .VmbChannelEnable = VmbChannelEnable,            \
    .VmbChannelPause = VmbChannelPause, .VmbChannelStart = VmbChannelStart,                  \
    .VmbChannelRestoreFromBuffer = VmbChannelRestoreFromBuffer,                              \
    .VmbChannelSaveBegin = VmbChannelSaveBegin,                                              \
    .VmbChannelSaveContinue = (save_continue),                                    \
    .VmbChannelSaveEnd = VmbChannelSaveEnd,                                                  \
    .VmbServerChannelInitSetSaveRestorePacketCallbacks =                                     \
        VmbServerChannelInitSetSaveRestorePacketCallbacks,                                   \
    .VmbServerChannelInitSetOffer = VmbServerChannelInitSetOffer,                            \
    .VmbsaveGuestOpen = VmbsaveGuestOpen, .VmbsaveGuestClose = VmbsaveGuestClose,            \
    .VmbsaveGuestGpadlCreate = VmbsaveGuestGpadlCreate,                                      \
    .VmbsaveGuestGpadlTeardownBegin = VmbsaveGuestGpadlTeardownBegin,                        \
    .VmbsaveGuestGpadlTeardownComplete = VmbsaveGuestGpadlTeardownComplete,                  \
    .VmbPacketSend = VmbPacketSend, .VmbsaveGuestPacketComplete = VmbsaveGuestPacketComplete, \
    .VmbsaveRingWrite = VmbsaveRingWrite, .VmbsaveRingRead = VmbsaveRingRead,                \
    .VmbsaveChannelDescribe = VmbsaveChannelDescribe

#endif /* VMBSAVE_KMCL_EXAMPLE_CHANNEL_H */
