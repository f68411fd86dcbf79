"""Real arms behind the ``Robot`` protocol.

``RealRobot`` (:mod:`.robot`) = the sim robot's kinematics and controllers + a
``SafetyLayer`` (:mod:`.safety`) + one ``ArmDriver`` (:mod:`.driver`) per device:
SO-101 / SO-100 on Feetech servos (:mod:`.so101`), WidowX / ViperX over rosbridge
(:mod:`.interbotix`), a SERL / HIL-SERL HTTP robot server (:mod:`.serl_http`); cameras
in :mod:`.cameras`; protocol-level stand-ins for tests in :mod:`.sim`. Build one from a
config with :func:`armgym.robots.real.config.make_real_robot`.

None of this has been run on hardware; see docs/real-robots.md.
"""
