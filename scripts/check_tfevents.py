#!/usr/bin/python3
"""Reads a run's TensorBoard event file with the protobuf library and prints every event.

Usage: /usr/bin/python3 scripts/check_tfevents.py runs/baseline   (needs python3-protobuf)

An independent check of the files TensorBoardLogger writes: the TFRecord framing and both masked
CRC-32C checksums are verified, and each record is parsed as an Event whose schema mirrors the field
numbers of TensorFlow's event.proto and summary.proto.
"""
import struct, sys, glob
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
# Mirror of TensorFlow's event.proto / summary.proto (field numbers only, the parts we use).
fdp = descriptor_pb2.FileDescriptorProto(name="ev.proto", package="tf")
val = fdp.message_type.add(name="Value")
val.field.add(name="tag", number=1, type=9, label=1)
val.field.add(name="simple_value", number=2, type=2, label=1)
summ = fdp.message_type.add(name="Summary")
summ.field.add(name="value", number=1, type=11, label=3, type_name=".tf.Value")
ev = fdp.message_type.add(name="Event")
ev.field.add(name="wall_time", number=1, type=1, label=1)
ev.field.add(name="step", number=2, type=3, label=1)
ev.field.add(name="file_version", number=3, type=9, label=1)
ev.field.add(name="summary", number=5, type=11, label=1, type_name=".tf.Summary")
pool = descriptor_pool.DescriptorPool(); pool.Add(fdp)
Event = message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName("tf.Event"))
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff
def masked(data):
    c = crc32c(data); return (((c >> 15) | (c << 17)) + 0xa282ead8) & 0xffffffff
path = glob.glob(sys.argv[1] + "/events.out.tfevents.*")[0]
buf = open(path, "rb").read(); at = 0
while at < len(buf):
    (n,) = struct.unpack("<Q", buf[at:at+8]); assert struct.unpack("<I", buf[at+8:at+12])[0] == masked(buf[at:at+8])
    data = buf[at+12:at+12+n]; assert struct.unpack("<I", buf[at+12+n:at+16+n])[0] == masked(data)
    e = Event(); e.ParseFromString(data)
    print(e.step, e.file_version, [(v.tag, round(v.simple_value, 4)) for v in e.summary.value])
    at += 16 + n
