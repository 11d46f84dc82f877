"""H.323 (issue 13): H.225.0 call signalling (Q.931 over TPKT), H.245 tunnelled or on
its own connection, Fast Connect; calls become ``RtpLeg``s on the shared RTP media
session like every other protocol's."""
