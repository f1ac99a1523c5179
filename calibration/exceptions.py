from dreamseed.exceptions import PermanentJobError


class CalibrationError(PermanentJobError):
    code = "calibration_error"


class CalibrationInputError(CalibrationError):
    """The response data cannot identify the model."""

    code = "calibration_input"


class CalibrationLocked(CalibrationError):
    """Another calibration of the same organisation is running."""

    code = "calibration_locked"


class CalibrationNotConverged(CalibrationError):
    """The estimates did not settle; they are kept but not put in force."""

    code = "calibration_not_converged"
